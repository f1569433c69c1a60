//! A short message in another language, told by its words. `whatlang`'s trigrams need a
//! sentence or two before they are sure ("Drucker druckt nicht", "la stampante non stampa"
//! pass for French or English with them); a printer-support desk's other languages say
//! what they have to say with a few words of their own: the ones listed here, their
//! function words and the words of printing, each one that neither French nor English
//! uses (so "la", "de", "no", "papier", "imprime" are not listed: they tell nothing).

/// The languages told by their words, with those words separated by spaces (lower case,
/// without accents, as `fold` leaves them).
const LEXICONS: &[(&str, &str)] = &[
    (
        "German",
        "der das und ist nicht mein meine meinem unser unsere unserem ein eine einen kein \
         keine mit auf bei bitte danke drucker druckt drucken druckkopf papierstau fach \
         fehler fehlermeldung seite seiten leer geht wie warum wir ich zeigt funktioniert \
         kaputt hallo guten gruss grusse patrone patronen tinte techniker schicken heute \
         immer noch schon oder aber auch nur wird wurde keinen streifen verbindung \
         treiber blatt einzug klappe wartung rechnung vertrag dringend hilfe fur uber zum \
         zur vom beim dem sich haben hat sind kann konnen bleibt steht kommt neue neuen \
         alte mehr",
    ),
    (
        "Spanish",
        "el los una unos unas con por para esta estoy tengo tiene necesito hola gracias \
         impresora impresoras imprimir imprimiendo papel bandeja atasco atascado atascada \
         tinta cartucho cartuchos funciona aparece hoja hojas ayuda tecnico desde muy \
         pero cuando porque como donde tambien oficina manana todavia otra otro vez \
         escaner conectar controlador lineas rayas blanco blancas factura contrato pedido \
         buenos buenas dias tardes saludos puede pueden ustedes nuestra nuestro nuevo \
         nueva hace sigue aun mensaje pantalla luz parpadea pagina paginas",
    ),
    (
        "Italian",
        "lo gli delle dello degli sono stampante stampanti stampa stampare carta cassetto \
         inceppamento inceppata inceppato errore mia mio nostra nostro che ciao grazie \
         buongiorno con funziona piu ancora sempre dopo perche quando ufficio tecnico \
         aiuto pagina pagine bianca bianche righe striscia strisce cartuccia cartucce \
         inchiostro schermo messaggio rete collegare fattura contratto ordine abbiamo \
         nella sulla dalla alla questo questa anche gia oggi ieri prego cordiali saluti \
         nuovo nuova foglio fogli vassoio blocca bloccata della",
    ),
    (
        "Portuguese",
        "uma nao impressora impressoras imprimir papel bandeja encravado encravou \
         encravada atolado tinteiro cartucho erro minha meu nossa nosso obrigado obrigada \
         ola bom boa preciso precisamos tecnico ajuda funciona depois ainda sempre \
         escritorio luzes luz piscando pisca folha folhas pagina paginas branco branca em \
         na nas da das para por tambem hoje ontem esta estao tem temos mensagem tela ecra \
         rede fatura contrato pedido linhas riscos sai aparece continua novo nova voces",
    ),
    (
        "Dutch",
        "het een niet mijn onze ons drukt lade papierstoring foutmelding fout geeft werkt \
         kan wat hoe waarom waar graag bedankt dank hallo goedemorgen alvast groet \
         groeten nodig inkt vervangen scannen lege strepen pagina paginas wij ik jullie \
         zijn heeft hebben wordt meer nog ook maar vandaag gisteren nieuwe oude netwerk \
         factuur bestelling scherm lampje knippert vel vellen zit printen afdruk dringend \
         hulp bij voor naar afdrukken",
    ),
    (
        "Polish",
        "nie drukarka drukarki drukuje drukowanie zaciecie podajnik podajniku blad prosze \
         dziekuje dzien dobry jest sie mam mamy nasza moja dziala technik technika tusz \
         toneru strony strona biale pusta papieru sieci faktura umowa pilne pomoc czy jak \
         juz znowu",
    ),
    (
        "Romanian",
        "imprimanta nu printeaza eroare hartie blocata blocat rog multumesc buna ziua \
         functioneaza tehnician este sunt avem noastra mea meu cartus cerneala tava \
         pagini pagina albe retea factura ajutor cu pe azi ieri",
    ),
    (
        "Turkish",
        "yazici yazicimiz yazdirmiyor kagit sikisti sikismasi hata hatasi lutfen \
         tesekkurler tesekkur ederim merhaba calismiyor bir ve bu icin var yok murekkep \
         kartus teknik servis gonderin bos sayfa sayfalar fatura acil yardim ile cok hala \
         yine bugun",
    ),
];

/// The language of `text`, told by its words, when they are beyond doubt another one than
/// French or English: at least two of that language's words, and more of them than French
/// or English ones (`french_or_english`: "le", "the", "imprimante"...). A French
/// message with a German word or two ("le Drucker de l'accueil") stays French.
pub(super) fn by_words(text: &str, french_or_english: &[String]) -> Option<&'static str> {
    let folded = super::fold(text);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let ours = words
        .iter()
        .filter(|w| french_or_english.iter().any(|f| f == *w))
        .count();
    let (language, theirs) = LEXICONS
        .iter()
        .map(|(language, lexicon)| {
            let count = words
                .iter()
                .filter(|w| lexicon.split_whitespace().any(|l| l == **w))
                .count();
            (*language, count)
        })
        .max_by_key(|(_, count)| *count)?;
    (theirs >= 2 && theirs > ours).then_some(language)
}

/// The script of `text` when most of its letters are of one that is not Latin (Cyrillic,
/// Arabic, Greek, Han...): neither French nor English, however short. Named by the
/// language `whatlang` reads, or by the script when it is unsure of the language.
pub(super) fn by_script(text: &str) -> Option<&'static str> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let latin = text
        .chars()
        .filter(|c| c.is_alphabetic() && (c.is_ascii() || ('\u{00c0}'..='\u{024f}').contains(c)))
        .count();
    if letters < 2 || latin * 2 >= letters {
        return None;
    }
    let info = whatlang::detect(text)?;
    if info.is_reliable() {
        return Some(info.lang().eng_name());
    }
    use whatlang::Script;
    Some(match info.script() {
        Script::Cyrillic => "a language written in Cyrillic",
        Script::Arabic => "a language written in Arabic script",
        Script::Greek => "Greek",
        Script::Hebrew => "Hebrew",
        Script::Mandarin | Script::Hiragana | Script::Katakana => "Chinese or Japanese",
        Script::Hangul => "Korean",
        _ => "a language not written in Latin letters",
    })
}

#[cfg(test)]
mod tests {
    use super::super::unsupported_language;

    /// The texts of a JSON Lines file of the repository, with their `lang` when it has one.
    fn texts(path: &str) -> Vec<(Option<String>, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let text = std::fs::read_to_string(&path).unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let field = |f: &str| v.get(f).and_then(|x| x.as_str()).map(str::to_string);
                let text = field("text").or_else(|| field("query")).unwrap_or_else(|| {
                    format!(
                        "{} {}",
                        field("subject").unwrap_or_default(),
                        field("description").unwrap_or_default()
                    )
                });
                (field("lang"), text)
            })
            .collect()
    }

    #[test]
    fn no_french_or_english_message_is_taken_for_another_language() {
        let mut files = vec![
            "tests/data/answer_messages.jsonl".to_string(),
            "tests/data/extraction_messages.jsonl".into(),
            "tests/data/extraction_holdout.jsonl".into(),
            "kb/training/tickets.jsonl".into(),
            "kb/eval/queries.jsonl".into(),
            "tests/data/language_holdout.jsonl".into(),
        ];
        for kb in ["seed", "service-public"] {
            for set in 'a'..='s' {
                files.push(format!("tests/data/transfer/{kb}/tickets_{set}.jsonl"));
            }
        }
        let mut read = 0;
        for file in &files {
            for (lang, text) in texts(file) {
                if matches!(lang.as_deref(), Some("fr" | "en" | "mixed") | None) {
                    read += 1;
                    assert_eq!(unsupported_language(&text), None, "{file}: {text}");
                }
            }
        }
        assert!(read > 4000, "{read}");
    }

    /// The held-out set's first run (written apart from these word lists): 82 of its 140
    /// messages in other languages told, against 27 by `whatlang`'s reliability alone.
    #[test]
    fn most_short_foreign_messages_of_a_set_written_apart_are_told() {
        let foreign: Vec<String> = texts("tests/data/language_holdout.jsonl")
            .into_iter()
            .filter(|(lang, _)| !matches!(lang.as_deref(), Some("fr" | "en")))
            .map(|(_, text)| text)
            .collect();
        let told = foreign
            .iter()
            .filter(|t| unsupported_language(t).is_some())
            .count();
        assert_eq!(foreign.len(), 140);
        assert!(told >= 82, "{told} of {}", foreign.len());
    }
}
