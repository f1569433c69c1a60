//! Column widths of the schema (`migrations/`), in characters. Validation refuses a longer
//! value with a 422 naming the field before the database would truncate or refuse it;
//! a unit test reads the migrations so the two cannot drift.

/// `customers.name`, `customers.email`, `customers.company`.
pub const CUSTOMER_NAME: usize = 255;
pub const CUSTOMER_EMAIL: usize = 255;
pub const CUSTOMER_PHONE: usize = 64;
pub const CUSTOMER_COMPANY: usize = 255;
/// `customers.address` (migration 0005).
pub const CUSTOMER_ADDRESS: usize = 500;
/// `devices.model_name`, `extractions.model`.
pub const MODEL_NAME: usize = 191;
/// `extractions.manufacturer`.
pub const MANUFACTURER: usize = 100;
/// `devices.serial`, `extractions.serial`.
pub const SERIAL: usize = 64;
/// `devices.location`.
pub const LOCATION: usize = 255;
/// `extractions.source`: the external extractor's name.
pub const EXTRACTOR_NAME: usize = 64;
/// `responses.author`.
pub const AUTHOR: usize = 100;
/// `ticket_history.actor`.
pub const ACTOR: usize = 100;
/// `ticket_history.note`: a TEXT column (64 KiB on MySQL) holds 4,000 characters of up to
/// four bytes each with room to spare.
pub const NOTE: usize = 4000;
/// `attachments.filename`, `attachments.content_type`.
pub const FILENAME: usize = 255;
pub const CONTENT_TYPE: usize = 127;

#[cfg(test)]
mod tests {
    use super::*;

    const MYSQL: &str = include_str!("../../migrations/mysql/0001_init.sql");

    /// The width of `column` in the MySQL table `table`.
    fn width(table: &str, column: &str) -> usize {
        let start = MYSQL
            .find(&format!("CREATE TABLE {table} ("))
            .unwrap_or_else(|| panic!("no table {table}"));
        let body = &MYSQL[start..];
        let body = &body[..body.find(");").unwrap()];
        let line = body
            .lines()
            .find(|l| l.split_whitespace().next() == Some(column))
            .unwrap_or_else(|| panic!("no column {table}.{column}"));
        let open = line.find("VARCHAR(").unwrap() + "VARCHAR(".len();
        line[open..open + line[open..].find(')').unwrap()]
            .parse()
            .unwrap()
    }

    #[test]
    fn the_limits_are_the_schema_s() {
        let checks = [
            ("customers", "name", CUSTOMER_NAME),
            ("customers", "email", CUSTOMER_EMAIL),
            ("customers", "phone", CUSTOMER_PHONE),
            ("customers", "company", CUSTOMER_COMPANY),
            ("devices", "model_name", MODEL_NAME),
            ("devices", "serial", SERIAL),
            ("devices", "location", LOCATION),
            ("extractions", "model", MODEL_NAME),
            ("extractions", "manufacturer", MANUFACTURER),
            ("extractions", "serial", SERIAL),
            ("extractions", "source", EXTRACTOR_NAME),
            ("responses", "author", AUTHOR),
            ("ticket_history", "actor", ACTOR),
            ("attachments", "filename", FILENAME),
            ("attachments", "content_type", CONTENT_TYPE),
        ];
        for (table, column, limit) in checks {
            assert_eq!(width(table, column), limit, "{table}.{column}");
        }
    }
}
