use std::io::{self, Read};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use unicode_normalization::UnicodeNormalization;

use super::row::Column;
use super::*;
use crate::domain::citizen::{LifeStatus, Sex};
use crate::registry::generate::PopulationGenerator;

const ID: &str = "001090123456";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 4, 20).unwrap()
}

fn now() -> NaiveDateTime {
    today().and_hms_opt(9, 30, 0).unwrap()
}

/// A valid record, in the order of `COLUMNS`, with some fields replaced.
fn row(changes: &[(&str, &str)]) -> Vec<String> {
    let mut fields: Vec<String> = [
        ID,
        "Nguyễn Văn An",
        "Nguyễn",
        "Văn",
        "An",
        "1990-05-17",
        "male",
        "VN",
        "Hà Nội",
        "Số 12 phố Huế",
        "Phường Phạm Đình Hổ",
        "Hai Bà Trưng",
        "Hà Nội",
        "VN",
        ID,
        "2021-03-01",
        "2030-05-17",
        "living",
        "2026-04-01T08:00:00Z",
    ]
    .map(str::to_owned)
    .to_vec();
    for (column, value) in changes {
        let index = COLUMNS.iter().position(|c| c == column).unwrap();
        fields[index] = (*value).to_owned();
    }
    fields
}

/// One CSV line (quoted where needed, no terminator).
fn line(fields: &[String]) -> String {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    csv.write_record(fields).unwrap();
    let mut text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
    text.pop();
    text
}

/// A file: the header, then the rows, each on its own line(s).
fn file(rows: &[Vec<String>]) -> String {
    let mut text = COLUMNS.join(",");
    text.push('\n');
    for fields in rows {
        text.push_str(&line(fields));
        text.push('\n');
    }
    text
}

fn read(input: &[u8]) -> Vec<Result<Citizen, RowError>> {
    CitizenReader::new(input, today()).unwrap().collect()
}

/// The reason the only row of a file with `changes` applied is refused.
fn refusal(changes: &[(&str, &str)]) -> String {
    let results = read(file(&[row(changes)]).as_bytes());
    assert_eq!(results.len(), 1);
    let error = results.into_iter().next().unwrap().unwrap_err();
    assert_eq!(error.line, 2);
    assert!(!error.reason.contains(ID), "{}", error.reason);
    error.reason
}

fn header_error(input: &[u8]) -> HeaderError {
    match CitizenReader::new(input, today()) {
        Ok(_) => panic!("the header was accepted"),
        Err(error) => error,
    }
}

#[test]
fn column_indexes_line_up_with_the_column_names() {
    for (index, column) in Column::ALL.into_iter().enumerate() {
        assert_eq!(column as usize, index);
        assert_eq!(column.name(), COLUMNS[index]);
    }
}

#[test]
fn a_generated_population_round_trips() {
    let mut generator = PopulationGenerator::new(3);
    let mut citizens: Vec<Citizen> = (0..2_000)
        .map(|_| generator.next_citizen(today(), now()))
        .collect();
    // Fields that need quoting, and a stamp with fractional seconds.
    citizens[0].address.street = "Số 12, ngõ \"Hoà Bình\"".to_owned();
    citizens[1].updated_at = now() + Duration::milliseconds(250);
    citizens[2].middle_name = String::new();
    assert!(citizens.iter().any(|c| c.id_card_expires_on.is_none()));

    let mut writer = CitizenWriter::new(Vec::new()).unwrap();
    for citizen in &citizens {
        writer.write(citizen).unwrap();
    }
    let bytes = writer.into_inner().unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("national_id,full_name,"));
    assert!(text.contains("T09:30:00Z\n"));
    assert!(text.contains("T09:30:00.250Z"));

    let read: Vec<Citizen> = CitizenReader::new(bytes.as_slice(), today())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, citizens);
}

#[test]
fn a_valid_row_reads_into_a_citizen() {
    let results = read(file(&[row(&[])]).as_bytes());
    let citizen = results.into_iter().next().unwrap().unwrap();
    assert_eq!(citizen.national_id.expose(), ID);
    assert_eq!(citizen.full_name, "Nguyễn Văn An");
    assert_eq!(citizen.sex, Sex::Male);
    assert_eq!(citizen.life_status, LifeStatus::Living);
    assert_eq!(
        citizen.address.formatted(),
        "Số 12 phố Huế, Phường Phạm Đình Hổ, Hai Bà Trưng, Hà Nội"
    );
    assert_eq!(
        citizen.id_card_expires_on,
        NaiveDate::from_ymd_opt(2030, 5, 17)
    );
    assert_eq!(
        citizen.updated_at,
        NaiveDate::from_ymd_opt(2026, 4, 1)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    );
}

#[test]
fn columns_may_come_in_any_order() {
    let fields = row(&[]);
    let mut text: String = COLUMNS.iter().rev().copied().collect::<Vec<_>>().join(",");
    text.push('\n');
    let reversed: Vec<String> = fields.iter().rev().cloned().collect();
    text.push_str(&line(&reversed));
    text.push('\n');

    let in_order = read(file(&[fields]).as_bytes());
    let reordered = read(text.as_bytes());
    assert!(in_order[0].is_ok());
    assert_eq!(reordered, in_order);
}

#[test]
fn optional_fields_may_be_empty_and_fields_are_trimmed() {
    let results = read(
        file(&[row(&[
            ("middle_name", ""),
            ("id_card_expires_on", "  "),
            ("life_status", " deceased "),
            ("full_name", "  Nguyễn An "),
        ])])
        .as_bytes(),
    );
    let citizen = results.into_iter().next().unwrap().unwrap();
    assert_eq!(citizen.middle_name, "");
    assert_eq!(citizen.id_card_expires_on, None);
    assert_eq!(citizen.life_status, LifeStatus::Deceased);
    assert_eq!(citizen.full_name, "Nguyễn An");
}

#[test]
fn nfd_input_comes_out_nfc() {
    let nfd: String = "Nguyễn Văn Ánh".nfd().collect();
    assert_ne!(nfd, "Nguyễn Văn Ánh");
    let province: String = "Hà Nội".nfd().collect();
    let results =
        read(file(&[row(&[("full_name", &nfd), ("address_province", &province)])]).as_bytes());
    let citizen = results.into_iter().next().unwrap().unwrap();
    assert_eq!(citizen.full_name, "Nguyễn Văn Ánh");
    assert_eq!(citizen.address.province, "Hà Nội");
}

#[test]
fn header_problems_refuse_the_file() {
    let without: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != "sex" && *c != "updated_at")
        .collect();
    match header_error(without.join(",").as_bytes()) {
        HeaderError::MissingColumns(missing) => assert_eq!(missing, ["sex", "updated_at"]),
        other => panic!("{other}"),
    }

    let extra = format!("{},nickname\n", COLUMNS.join(","));
    let error = header_error(extra.as_bytes());
    assert!(matches!(
        &error,
        HeaderError::UnknownColumn { position: 20, name: Some(name) } if name == "nickname"
    ));
    assert_eq!(
        error.to_string(),
        "unknown column \"nickname\" (header field 20)"
    );

    let twice = format!("{},sex\n", COLUMNS.join(","));
    assert!(matches!(
        header_error(twice.as_bytes()),
        HeaderError::DuplicateColumn("sex")
    ));

    assert!(matches!(header_error(b""), HeaderError::Empty));
    assert!(matches!(header_error(b"\n\r\n  \n"), HeaderError::Empty));

    let mut bad = COLUMNS.join(",").into_bytes();
    bad.extend_from_slice(b",\xff\n");
    assert!(matches!(
        header_error(&bad),
        HeaderError::NotUtf8 { position: 20 }
    ));
}

#[test]
fn a_file_without_its_header_row_is_refused_without_echoing_the_row() {
    let headless = format!("{}\n", line(&row(&[])));
    let error = header_error(headless.as_bytes());
    assert!(matches!(
        error,
        HeaderError::UnknownColumn {
            position: 1,
            name: None
        }
    ));
    assert!(!error.to_string().contains(ID));
    assert!(error.to_string().contains("is the header row missing?"));
}

#[test]
fn the_header_may_have_a_byte_order_mark_padding_and_crlf() {
    let mut text = String::from("\u{feff}");
    text.push_str(&COLUMNS.map(|c| format!(" {c} ")).join(","));
    text.push_str("\r\n");
    text.push_str(&line(&row(&[])));
    text.push_str("\r\n");
    let results = read(text.as_bytes());
    assert_eq!(results.len(), 1);
    assert!(results[0].is_ok(), "{:?}", results[0]);
}

#[test]
fn the_number_must_be_well_formed_and_from_a_real_province() {
    assert_eq!(
        refusal(&[("national_id", "00109012345")]),
        "national_id: must be exactly 12 digits"
    );
    assert_eq!(
        refusal(&[("national_id", "00109012345x")]),
        "national_id: must be exactly 12 digits"
    );
    assert_eq!(
        refusal(&[("national_id", "003090123456")]),
        "national_id: unknown province code"
    );
    assert_eq!(
        refusal(&[("national_id", "")]),
        "national_id: required, but empty"
    );
}

#[test]
fn the_number_must_agree_with_sex_and_birth_year() {
    assert_eq!(
        refusal(&[("sex", "female")]),
        "sex: does not match the sex encoded in national_id"
    );
    assert_eq!(
        refusal(&[("birth_date", "1991-05-17")]),
        "birth_date: the year does not match the birth year encoded in national_id"
    );
    // The same number for a woman born in 2003.
    let results = read(
        file(&[row(&[
            ("national_id", "001303123456"),
            ("sex", "female"),
            ("birth_date", "2003-01-31"),
            ("id_card_issued_on", "2017-02-01"),
        ])])
        .as_bytes(),
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
}

#[test]
fn dates_must_be_real_and_in_order() {
    assert_eq!(
        refusal(&[("id_card_issued_on", "2023-02-30")]),
        "id_card_issued_on: not a real calendar date"
    );
    assert_eq!(
        refusal(&[("birth_date", "1990-5-17")]),
        "birth_date: not a date in the form YYYY-MM-DD"
    );
    assert_eq!(
        refusal(&[("birth_date", "17/05/1990")]),
        "birth_date: not a date in the form YYYY-MM-DD"
    );
    assert_eq!(
        refusal(&[
            ("national_id", "001227123456"),
            ("birth_date", "2027-01-01")
        ]),
        "birth_date: in the future"
    );
    assert_eq!(
        refusal(&[
            ("national_id", "001099123456"),
            ("birth_date", "1899-12-31")
        ]),
        "birth_date: before 1900-01-01"
    );
    assert_eq!(
        refusal(&[("id_card_issued_on", "2026-04-21")]),
        "id_card_issued_on: in the future"
    );
    assert_eq!(
        refusal(&[("id_card_issued_on", "1990-05-16")]),
        "id_card_issued_on: before birth_date"
    );
    assert_eq!(
        refusal(&[("id_card_expires_on", "2021-02-28")]),
        "id_card_expires_on: before id_card_issued_on"
    );
    assert_eq!(
        refusal(&[("birth_date", "")]),
        "birth_date: required, but empty"
    );
}

#[test]
fn updated_at_is_rfc_3339_in_utc_and_not_far_ahead() {
    let results = read(
        file(&[
            row(&[("updated_at", "2026-04-21T06:59:59+07:00")]),
            row(&[
                ("national_id", "001090123457"),
                ("updated_at", "2026-04-21T23:59:59Z"),
            ]),
        ])
        .as_bytes(),
    );
    let first = results[0].as_ref().unwrap();
    assert_eq!(
        first.updated_at,
        NaiveDate::from_ymd_opt(2026, 4, 20)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap()
    );
    assert!(results[1].is_ok(), "a day of clock skew is tolerated");

    assert_eq!(
        refusal(&[("updated_at", "2026-04-22T00:00:00Z")]),
        "updated_at: more than a day in the future"
    );
    assert_eq!(
        refusal(&[("updated_at", "2026-04-01 08:00")]),
        "updated_at: not an RFC 3339 date and time, such as 2026-11-01T08:00:00Z"
    );
}

#[test]
fn enumerations_and_codes_are_exact() {
    assert_eq!(
        refusal(&[("sex", "Male")]),
        "sex: must be `male` or `female`"
    );
    assert_eq!(
        refusal(&[("life_status", "alive")]),
        "life_status: must be `living` or `deceased`"
    );
    assert_eq!(
        refusal(&[("nationality", "vn")]),
        "nationality: must be a country code of two capital letters, such as VN"
    );
    assert_eq!(
        refusal(&[("address_country", "VNM")]),
        "address_country: must be a country code of two capital letters, such as VN"
    );
}

#[test]
fn text_is_required_bounded_and_free_of_control_characters() {
    assert_eq!(
        refusal(&[("given_name", " ")]),
        "given_name: required, but empty"
    );
    let long = "a".repeat(201);
    assert_eq!(
        refusal(&[("address_street", &long)]),
        "address_street: longer than 200 characters"
    );
    assert!(read(file(&[row(&[("address_street", &long[..200])])]).as_bytes())[0].is_ok());
    assert_eq!(
        refusal(&[("id_card_number", "123456789012345678901")]),
        "id_card_number: longer than 20 characters"
    );
    assert_eq!(
        refusal(&[("id_card_number", "0010 9012")]),
        "id_card_number: must be ASCII letters and digits only"
    );
    assert_eq!(
        refusal(&[("family_name", "Nguy\u{1b}[31mễn")]),
        "family_name: contains a control character (a line break, tab or the like)"
    );
}

#[test]
fn invalid_utf8_refuses_its_row_and_the_next_row_still_reads() {
    let mut bytes = file(&[row(&[])]).into_bytes();
    let mut second = line(&row(&[("national_id", "001090123457")])).into_bytes();
    let at = second.iter().position(|&b| b == b'A').unwrap();
    second[at] = 0xff;
    bytes.extend_from_slice(&second);
    bytes.push(b'\n');
    bytes.extend_from_slice(line(&row(&[("national_id", "001090123458")])).as_bytes());
    bytes.push(b'\n');

    let results = read(&bytes);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    assert_eq!(
        results[1],
        Err(RowError {
            line: 3,
            reason: "full_name: not valid UTF-8".to_owned()
        })
    );
    assert!(results[2].is_ok());
}

#[test]
fn a_repeated_number_is_refused_after_its_first_occurrence() {
    let results = read(
        file(&[
            row(&[("life_status", "dead")]),
            row(&[("national_id", "001090123457")]),
            row(&[]),
            row(&[]),
        ])
        .as_bytes(),
    );
    // The first occurrence, refused for another reason, still owns the number.
    assert!(
        results[0]
            .as_ref()
            .unwrap_err()
            .reason
            .starts_with("life_status")
    );
    assert!(results[1].is_ok());
    for (result, line) in results[2..].iter().zip([4, 5]) {
        let error = result.as_ref().unwrap_err();
        assert_eq!(error.line, line);
        assert_eq!(
            error.reason,
            "national_id: duplicate personal identification number; first seen on line 2"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "line {line}: national_id: duplicate personal identification number; first seen on line 2"
            )
        );
    }
}

#[test]
fn a_row_with_the_wrong_number_of_fields_is_refused_and_reading_goes_on() {
    let mut short = row(&[("national_id", "001090123457")]);
    short.pop();
    let mut long = row(&[("national_id", "001090123458")]);
    long.push("extra".to_owned());
    let results = read(file(&[short, long, row(&[])]).as_bytes());
    assert_eq!(
        results[0],
        Err(RowError {
            line: 2,
            reason: "expected 19 fields, found 18".to_owned()
        })
    );
    assert_eq!(
        results[1],
        Err(RowError {
            line: 3,
            reason: "expected 19 fields, found 20".to_owned()
        })
    );
    assert!(results[2].is_ok());
}

#[test]
fn a_truncated_last_line_is_refused_with_its_line() {
    let mut text = file(&[row(&[])]);
    let last = line(&row(&[("national_id", "001090123457")]));
    let cut = last.char_indices().nth(60).unwrap().0;
    text.push_str(&last[..cut]);

    let results = read(text.as_bytes());
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let error = results[1].as_ref().unwrap_err();
    assert_eq!(error.line, 3);
    assert!(
        error
            .reason
            .ends_with("the last line of the file is incomplete"),
        "{}",
        error.reason
    );
}

#[test]
fn a_last_line_without_a_line_feed_is_fine_when_complete() {
    let mut text = file(&[row(&[])]);
    text.push_str(&line(&row(&[("national_id", "001090123457")])));
    let results = read(text.as_bytes());
    assert_eq!(results.len(), 2);
    assert!(results[1].is_ok(), "{:?}", results[1]);
}

/// Line numbers after quoted line breaks, blank lines and CRLF line ends are physical.
#[test]
fn line_numbers_count_physical_lines() {
    let rows = [
        // Line 2: a quoted comma is fine.
        row(&[("address_street", "Số 12, ngõ 5 phố Huế")]),
        // Lines 3 and 4: one record with a line break inside a quoted field.
        row(&[
            ("national_id", "001090123457"),
            ("address_street", "Số 12,\nngõ 5"),
        ]),
        // Line 5, refused to show its line.
        row(&[("national_id", "001090123458"), ("sex", "x")]),
    ];
    let mut text = file(&rows);
    // Lines 6 and 7 blank, then line 8.
    text.push_str("\n   \n");
    text.push_str(&line(&row(&[
        ("national_id", "001090123459"),
        ("sex", "y"),
    ])));
    text.push('\n');

    for text in [text.clone(), text.replace('\n', "\r\n")] {
        let results = read(text.as_bytes());
        assert_eq!(results.len(), 4, "{results:?}");
        assert_eq!(
            results[0].as_ref().unwrap().address.street,
            "Số 12, ngõ 5 phố Huế"
        );
        let lines: Vec<u64> = results[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().line)
            .collect();
        assert_eq!(lines, [3, 5, 8], "{text:?}");
        assert_eq!(
            results[1].as_ref().unwrap_err().reason,
            "address_street: contains a control character (a line break, tab or the like)"
        );
    }
}

/// A source that fails after handing over `data`.
struct FailingAfter<'a> {
    data: &'a [u8],
}

impl Read for FailingAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = self.data.read(buf)?;
        Ok(n)
    }
}

#[test]
fn a_read_error_ends_the_iteration_and_says_so() {
    let text = file(&[row(&[])]);
    let mut reader = CitizenReader::new(
        FailingAfter {
            data: text.as_bytes(),
        },
        today(),
    )
    .unwrap();
    assert!(reader.next().unwrap().is_ok());
    let error = reader.next().unwrap().unwrap_err();
    assert!(error.reason.contains("disk on fire"), "{}", error.reason);
    assert!(reader.stopped_early());
    assert!(reader.next().is_none());
    assert!(reader.next().is_none());
}

#[test]
fn memory_does_not_depend_on_reading_the_whole_file() {
    // An endless source: the reader yields rows as they come.
    struct Endless {
        pending: Vec<u8>,
        next: u64,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pending.is_empty() {
                let id = format!("001090{:06}", self.next);
                self.next += 1;
                self.pending = format!("{}\n", line(&row(&[("national_id", &id)]))).into_bytes();
            }
            let n = buf.len().min(self.pending.len());
            buf[..n].copy_from_slice(&self.pending[..n]);
            self.pending.drain(..n);
            Ok(n)
        }
    }
    let source = Endless {
        pending: format!("{}\n", COLUMNS.join(",")).into_bytes(),
        next: 0,
    };
    let reader = CitizenReader::new(source, today()).unwrap();
    let taken: Vec<_> = reader.take(1_000).collect();
    assert!(taken.iter().all(Result::is_ok));
}

#[test]
fn the_example_of_the_documentation_reads() {
    let doc = include_str!("../../../docs/REGISTER_CSV.md");
    let start = doc.find("```csv\n").unwrap() + "```csv\n".len();
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let citizens: Vec<Citizen> = CitizenReader::new(example.as_bytes(), today)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(citizens.len(), 2);
    assert_eq!(citizens[0].address.street, "Số 12, ngõ 5 phố Huế");
    assert_eq!(citizens[1].updated_at, citizens[0].updated_at);
}
