//! A short message in another language, told by its words. `whatlang`'s trigrams need a
//! sentence or two before they are sure ("Drucker druckt nicht", "la stampante non stampa"
//! pass for French or English with them); a printer-support desk's other languages say
//! what they have to say with a few words of their own: the ones listed here, their
//! function words and the words of printing. Left out: the words French or English
//! writers also use ("la", "de", "no", "papier", "imprime", "var", "ile", "ve"), names
//! ("da", "luz", "blanco", "della", "nova") and the greetings people borrow ("ciao",
//! "hola", "gracias", "danke").

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// The languages told by their words, with those words separated by spaces (lower case,
/// without accents, as `fold` leaves them).
const LEXICONS: &[(&str, &str)] = &[
    (
        "German",
        "und ist ich wir keine kein nicht mein meine meinem unser unsere unserem einen \
         keine auf bitte drucker druckt drucken druckkopf papierstau fehler fehlermeldung \
         seite seiten leer geht warum zeigt funktioniert guten gruss grusse patrone \
         patronen tinte techniker schicken heute immer noch schon wird wurde keinen \
         streifen verbindung treiber blatt einzug klappe wartung rechnung vertrag \
         dringend hilfe beim sich haben konnen bleibt steht kommt neue neuen alte mehr \
         nach obwohl gibts fuer muss jedes schwarz liefern ersetzen trommel netz neustart",
    ),
    (
        "Spanish",
        "tengo necesito impresora impresoras imprimir imprimiendo papel bandeja atasco \
         atascado atascada tinta cartucho cartuchos funciona aparece hoja hojas ayuda \
         tecnico cuando porque donde tambien oficina manana todavia escaner conectar \
         controlador rayas factura contrato buenos buenas dias tardes saludos puede \
         pueden ustedes nuestra nuestro nuevo nueva hace sigue aun mensaje pantalla \
         parpadea pagina paginas el los una unos por para pero muy desde tiene hay manera \
         queda poco falta puesto llamar todo nada viene hora",
    ),
    (
        "Italian",
        "gli delle dello degli stampante stampanti stampa stampare cassetto inceppamento \
         inceppata inceppato errore mio nostra nostro buongiorno funziona piu perche \
         ufficio tecnico aiuto pagina pagine bianche righe striscia strisce cartuccia \
         cartucce inchiostro schermo messaggio collegare fattura contratto ordine abbiamo \
         nella sulla dalla alla questo questa oggi ieri cordiali saluti nuovo nuova \
         foglio fogli vassoio blocca bloccata che sono ancora sempre dopo quando anche \
         gia colori spenti stampe richiamate domani vorrei disdire noleggio primo",
    ),
    (
        "Portuguese",
        "uma nao impressora impressoras imprimir papel bandeja encravado encravou \
         encravada atolado tinteiro cartucho erro minha meu nossa nosso preciso \
         precisamos tecnico ajuda funciona depois escritorio luzes piscando folha folhas \
         pagina paginas branco branca tambem ontem estao temos mensagem ecra rede fatura \
         contrato linhas riscos aparece continua voces ainda sempre hoje tem nada jeito \
         nenhum nenhuma conecta preso pretos vem vcs ligar podem desliguei liguei \
         acabando faco todas",
    ),
    (
        "Dutch",
        "het een niet mijn drukt papierstoring foutmelding geeft werkt waarom waar graag \
         bedankt goedemorgen alvast groet groeten nodig inkt vervangen scannen lege \
         strepen pagina paginas ik jullie zijn heeft hebben wordt vandaag gisteren nieuwe \
         oude netwerk factuur bestelling scherm lampje knippert vellen printen afdruk \
         dringend afdrukken hij niks bijna kunnen kunt zegt vervang klopt niemand sinds \
         eens mij vind terugbellen steeds loopt komt",
    ),
    (
        "Polish",
        "drukarka drukarki drukuje drukowanie zaciecie podajnik podajniku blad prosze \
         dziekuje dzien dobry jest mamy nasza moja dziala technik technika tusz toneru \
         strony strona biale pusta papieru sieci faktura umowa pilne pomoc znowu nie jak \
         czy juz dzieki konczy skan maila wydrukach paski kiedy przyjedzie serwisant \
         zgadza marzec wymien",
    ),
    (
        "Romanian",
        "imprimanta printeaza eroare hartie blocata blocat multumesc buna ziua \
         functioneaza tehnician avem noastra mea meu cartus cerneala tava pagini pagina \
         albe retea factura ajutor azi ieri este sunt rog aproape gol trimiteti altul \
         negre toate paginile gasesc driverul cand vine tehnicianul merge acum ledurile \
         clipesc afiseaza eroarea puteti trimite",
    ),
    (
        "Turkish",
        "yazici yazicimiz yazdirmiyor kagit sikisti sikismasi hata hatasi lutfen \
         tesekkurler tesekkur ederim calismiyor icin murekkep kartus teknik gonderin bos \
         sayfa sayfalar fatura yardim hala yine bugun bir yok cok bitti yenisini gonderir \
         misiniz yazicida ciktilarda cizgi nereden indiriliyor teknisyen zaman gelir",
    ),
];

/// Each listed word with the languages (places in `LEXICONS`) that use it: read once, so a
/// message's words are each looked up once.
static WORDS: LazyLock<HashMap<&'static str, Vec<usize>>> = LazyLock::new(|| {
    let mut words: HashMap<&'static str, Vec<usize>> = HashMap::new();
    for (language, (_, lexicon)) in LEXICONS.iter().enumerate() {
        for word in lexicon.split_whitespace() {
            let languages = words.entry(word).or_default();
            if !languages.contains(&language) {
                languages.push(language);
            }
        }
    }
    words
});

/// The language of `text`, told by its words, when they are beyond doubt another one than
/// French or English: at least two distinct words of that language, one of them listed
/// (the other may be written with a letter only it uses: `LETTERS`), more of them than
/// French or English ones (`french_or_english`: "le", "the", "imprimante"...), and at
/// least two in five of the message's distinct words that say something of its language
/// (not names, not the brands and words of printing every language uses: `NEUTRAL`). A
/// French or English message with a name, a greeting or a word or two of another language
/// ("Mme Da Costa", "merci, ciao", "le Drucker de l'accueil", "Los Angeles", "rappeler
/// ayşe yılmaz", "la brother affiche papel atascado") stays French or English: a word
/// capitalised within a sentence is a name, a letter counts only in a word in lower case;
/// words that have a digit (models, codes) are not counted.
pub(super) fn by_words(text: &str, french_or_english: &HashSet<String>) -> Option<&'static str> {
    // Composed letters, as `LETTERS` lists them ("ñ", not "n" and a tilde).
    let text: String = text.nfc().collect();
    // Each distinct word (folded): the languages it is listed in, and those it is a word
    // of by its letters alone.
    let mut words: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
    let mut telling = 0;
    for (written, name) in words_of(&text) {
        if written.chars().any(|c| c.is_ascii_digit()) {
            continue;
        }
        let folded = super::fold(written);
        if !words.contains_key(&folded) && !name && !NEUTRAL.contains(&folded.as_str()) {
            telling += 1;
        }
        let (listed, lettered) = words.entry(folded.clone()).or_default();
        // A word is another language's only where it is not written as a name.
        if name {
            continue;
        }
        for &language in WORDS.get(folded.as_str()).into_iter().flatten() {
            if !listed.contains(&language) {
                listed.push(language);
            }
        }
        if written.chars().next().is_some_and(char::is_lowercase) {
            for language in by_letters(written) {
                if !lettered.contains(&language) {
                    lettered.push(language);
                }
            }
        }
    }
    let mut theirs = [0usize; LEXICONS.len()];
    let mut theirs_listed = [0usize; LEXICONS.len()];
    let mut ours = 0;
    for (folded, (listed, lettered)) in &words {
        ours += usize::from(french_or_english.contains(folded));
        for language in 0..LEXICONS.len() {
            let is_listed = listed.contains(&language);
            theirs_listed[language] += usize::from(is_listed);
            theirs[language] += usize::from(is_listed || lettered.contains(&language));
        }
    }
    let (language, count) = theirs
        .iter()
        .copied()
        .enumerate()
        .filter(|(language, _)| theirs_listed[*language] >= 1)
        .max_by_key(|(_, count)| *count)?;
    (count >= 2 && count > ours && count * 5 >= telling * 2).then_some(LEXICONS[language].0)
}

/// Words every language of a printer desk writes alike: brands, product lines and the
/// words of printing borrowed from English. They say nothing of a message's language.
const NEUTRAL: &[&str] = &[
    "brother",
    "hp",
    "canon",
    "epson",
    "kyocera",
    "ricoh",
    "xerox",
    "lexmark",
    "konica",
    "minolta",
    "bizhub",
    "samsung",
    "oki",
    "sharp",
    "toshiba",
    "pixma",
    "ecotank",
    "officejet",
    "laserjet",
    "deskjet",
    "imagerunner",
    "sensys",
    "workforce",
    "color",
    "toner",
    "wifi",
    "wi",
    "fi",
    "wlan",
    "driver",
    "scan",
    "mac",
    "macos",
    "windows",
    "email",
    "mail",
    "pdf",
    "ok",
    "ko",
    "offline",
    "online",
    "usb",
    "fax",
    "reset",
    "update",
    "app",
];

/// The words of `text`, each with whether it is written as a name: a capital, not at the
/// start of a sentence (the text's, or after `.`, `!`, `?`, `:` or a line break; not the
/// full stop of a title such as "M." or "Dr.").
fn words_of(text: &str) -> Vec<(&str, bool)> {
    let mut words = Vec::new();
    let mut sentence_start = true;
    let mut start = None;
    let mut last: &str = "";
    for (at, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_alphanumeric() {
            start.get_or_insert(at);
            continue;
        }
        if let Some(from) = start.take() {
            let word = &text[from..at];
            let capital = word.chars().next().is_some_and(char::is_uppercase);
            words.push((word, capital && !sentence_start));
            sentence_start = false;
            last = word;
        } else if !c.is_whitespace() {
            last = "";
        }
        let title = c == '.'
            && last.chars().count() <= 3
            && last.chars().next().is_some_and(char::is_uppercase);
        if matches!(c, '.' | '!' | '?' | ':' | '\n' | '¿' | '¡') && !title {
            sentence_start = true;
        }
    }
    words
}

/// Letters no French or English word is written with, and the languages (by name, as in
/// `LEXICONS`) whose words are: "kağıt", "błąd", "llámenme", "può".
const LETTERS: &[(char, &[&str])] = &[
    ('ı', &["Turkish"]),
    ('ğ', &["Turkish"]),
    ('ş', &["Turkish", "Romanian"]),
    ('ș', &["Romanian"]),
    ('ț', &["Romanian"]),
    ('ţ', &["Romanian"]),
    ('ă', &["Romanian"]),
    ('ł', &["Polish"]),
    ('ą', &["Polish"]),
    ('ę', &["Polish"]),
    ('ś', &["Polish"]),
    ('ź', &["Polish"]),
    ('ż', &["Polish"]),
    ('ń', &["Polish"]),
    ('ć', &["Polish"]),
    ('ã', &["Portuguese"]),
    ('õ', &["Portuguese"]),
    ('ñ', &["Spanish"]),
    ('á', &["Spanish", "Portuguese"]),
    ('í', &["Spanish", "Portuguese"]),
    ('ú', &["Spanish", "Portuguese"]),
    ('ó', &["Spanish", "Portuguese", "Polish"]),
    ('ò', &["Italian"]),
    ('ì', &["Italian"]),
    ('ß', &["German"]),
    ('ä', &["German"]),
    ('ö', &["German", "Turkish"]),
];

/// The languages `written` is a word of by its letters (places in `LEXICONS`). Asked of
/// words in lower case only: names ("Yılmaz", "Söhne", "Łódź") carry letters of every
/// language into French and English messages.
fn by_letters(written: &str) -> Vec<usize> {
    let mut languages = Vec::new();
    for c in written.chars() {
        let Some((_, names)) = LETTERS.iter().find(|(letter, _)| *letter == c) else {
            continue;
        };
        for name in *names {
            if let Some(at) = LEXICONS.iter().position(|(language, _)| language == name) {
                if !languages.contains(&at) {
                    languages.push(at);
                }
            }
        }
    }
    languages
}

/// Latin letters: ASCII, the accented ones of European languages, and the full-width
/// forms East Asian keyboards type ("ＵＲＧＥＮＴ").
fn is_latin(c: char) -> bool {
    c.is_ascii()
        || ('\u{00c0}'..='\u{024f}').contains(&c)
        || ('\u{1e00}'..='\u{1eff}').contains(&c)
        || ('\u{ff21}'..='\u{ff5a}').contains(&c)
}

/// The script of `text` when most of its letters are of one that is not Latin (Cyrillic,
/// Arabic, Greek, Han...): neither French nor English, however short. Named by the
/// language `whatlang` reads, or by the script when it is unsure of the language.
pub(super) fn by_script(text: &str) -> Option<&'static str> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let latin = text
        .chars()
        .filter(|c| c.is_alphabetic() && is_latin(*c))
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
            "tests/data/language_holdout_2.jsonl".into(),
            "tests/data/language_holdout_3.jsonl".into(),
            "tests/data/transfer/service-public/kb.jsonl".into(),
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

    /// Sets written apart from these word lists, each by someone who saw neither the lists
    /// nor any other set. The first one's first run told 82 of its 140 foreign messages,
    /// with lists a review then found taking names and greetings for foreign words; it
    /// served to mend them. The second one, written after, with French and English
    /// messages full of foreign names, greetings and product names: 55 of its 120 foreign
    /// messages told on its first run, none of its 180 French and English ones taken for
    /// another language (`whatlang`'s reliability alone: 25). Both then served to read
    /// letters only other languages write ("kağıt", "llámenme"); the third, run first on
    /// that, told 60 of its 120 (44 before) and took none of its 180 French and English
    /// ones, but a review then found French messages quoting a Spanish panel ("la brother
    /// affiche papel atascado") and lower-case foreign names taken for other languages:
    /// mended (a listed word required, letters in lower-case words only, the share over
    /// the words that are not names nor brands), which tells fewer (94, 65, 50 here; all
    /// three sets are development ones now). The fourth, written with French and English
    /// messages made to be taken (foreign names in lower case, signatures in other
    /// languages, panels quoted), run first on the mended rule: 56 of its 120 told (45
    /// before); 2 of its 180 French and English ones taken, the same two as before (see
    /// `two_french_or_english_messages_of_the_fourth_set_are_still_taken`).
    #[test]
    fn most_short_foreign_messages_of_sets_written_apart_are_told() {
        for (file, total, at_least) in [
            ("tests/data/language_holdout.jsonl", 140, 94),
            ("tests/data/language_holdout_2.jsonl", 120, 65),
            ("tests/data/language_holdout_3.jsonl", 120, 50),
            ("tests/data/language_holdout_4.jsonl", 120, 56),
        ] {
            let foreign: Vec<String> = texts(file)
                .into_iter()
                .filter(|(lang, _)| !matches!(lang.as_deref(), Some("fr" | "en")))
                .map(|(_, text)| text)
                .collect();
            let told = foreign
                .iter()
                .filter(|t| unsupported_language(t).is_some())
                .count();
            assert_eq!(foreign.len(), total, "{file}");
            assert!(told >= at_least, "{file}: {told} of {total}");
        }
    }

    /// A signature of four lines in Dutch under two lines of French, and an English
    /// question naming a German bakery and its street: taken for Dutch and German, before
    /// this set's rule as after. Kept as they are so that a third is seen.
    #[test]
    fn two_french_or_english_messages_of_the_fourth_set_are_still_taken() {
        let taken: Vec<String> = texts("tests/data/language_holdout_4.jsonl")
            .into_iter()
            .filter(|(lang, _)| matches!(lang.as_deref(), Some("fr" | "en")))
            .filter(|(_, text)| unsupported_language(text).is_some())
            .map(|(_, text)| text)
            .collect();
        assert!(taken.len() <= 2, "{taken:#?}");
    }

    /// What a review found taken for another language, and must not be.
    #[test]
    fn names_greetings_and_abbreviations_stay_french_or_english() {
        for text in [
            "M. Da Silva — scan to NAS KO",
            "Scanner HS — Mme Da Costa, agence Nova",
            "Model: NA / Serial: NA / Issue: won't turn on",
            "We've replaced the BU, still streaks",
            "Hôtel presqu'île de Giens (Var) : toner vide",
            "Merci, ciao ciao !",
            "RE: HP OfficeJet 9010 - Mia Della Rosa",
            "Ricoh MP C3003 : SC542 — rappeler Mme Luz Blanco",
            "macOS El Capitan driver, Los Angeles office",
            "Hola! Printer offline again. Gracias",
            "ＵＲＧＥＮＴ ｐｒｉｎｔｅｒ ｄｏｗｎ",
            "M. Yılmaz et Mme Wiśniewska ont appelé pour le toner",
            "Bureau de Łódź : la Kyocera affiche C6000",
            "Straße des 17. Juni, Berlin: printer jammed again",
            // What a review of the letters found taken for other languages.
            "la brother affiche papel atascado depuis hier",
            "la xerox affiche sem papel na bandeja",
            "rappeler ayşe yılmaz svp",
            "appel de ayşe yılmaz",
            "merci maría núñez",
            "Merci,\nMaría\nDirección Técnica",
            "thanks, łukasz wójcik",
            "Commande : 2 piñatas, 1 jalapeño",
            "Codes copieur à créer :\nMałgorzata Nowak\nPaweł Wójcik",
            "Rappeler Dr. Doğan ou M. Yılmaz",
        ] {
            assert_eq!(unsupported_language(text), None, "{text}");
        }
    }

    /// Letters no French or English word has, written in words that are not names; and
    /// words typed without them, as those keyboards' owners often do.
    #[test]
    fn letters_only_other_languages_write_tell_them() {
        for (text, language) in [
            ("yazıcıda kağıt sıkıştı", "Turkish"),
            ("błąd drukarki, proszę o pomoc", "Polish"),
            ("Llámenme mañana, por favor", "Spanish"),
            ("impressão com manchas, não sai", "Portuguese"),
        ] {
            assert_eq!(unsupported_language(text), Some(language), "{text}");
        }
    }
}
