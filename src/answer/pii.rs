//! Masks what identifies a customer before text leaves the machine for an LLM: e-mail
//! addresses, phone numbers and serial numbers.

use std::sync::LazyLock;

use regex::Regex;

pub(super) static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+").expect("email pattern"));
pub(super) static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[\s.-]?(?:\(0\))?[\s.-]?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}|\b0[1-9](?:[\s.-]?\d{2}){4}\b|\(\d{3}\)\s?\d{3}-\d{4}|\b\d{3}-\d{3}-\d{4}\b|\b\d{3}-\d{4}\b)")
        .expect("phone pattern")
});

/// `text` with e-mails, phone numbers and the given serials replaced by placeholders.
pub fn mask(text: &str, serials: &[&str]) -> String {
    let mut out = EMAIL.replace_all(text, "[email]").into_owned();
    out = PHONE.replace_all(&out, "[phone]").into_owned();
    for serial in serials.iter().filter(|s| s.len() >= 4) {
        // Case-insensitive, as written by the customer.
        let pattern = format!("(?i){}", regex::escape(serial));
        if let Ok(re) = Regex::new(&pattern) {
            out = re.replace_all(&out, "[serial]").into_owned();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_contacts_and_serials() {
        let text = "Marc (marc.dupont@exemple.fr, 06 12 34 56 78, +44 20 7946 0958) S/N vnb3k67890, erreur 13.A2.D2 le 12/03";
        let masked = mask(text, &["VNB3K67890"]);
        assert_eq!(
            masked,
            "Marc ([email], [phone], [phone]) S/N [serial], erreur 13.A2.D2 le 12/03"
        );
    }
}
