//! Codes of the place of birth registration: the first three digits of the 12-digit
//! personal identification number.
//!
//! The Ministry of Public Security coded each of the 63 provinces and centrally-run
//! cities (Appendix 1 of Circular 07/2016/TT-BCA). Numbers are permanent, so a number
//! keeps the code of the province where the birth was registered even when the
//! citizen lives elsewhere. Codes are not contiguous: "003", "005" and so on belong to
//! nobody, and a number that starts with one of them is malformed.

/// One province or centrally-run city and its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Province {
    /// Three ASCII digits, e.g. "079".
    pub code: &'static str,
    /// The name with Vietnamese diacritics (NFC), without the "Tỉnh" / "Thành phố" prefix.
    pub name: &'static str,
}

const fn p(code: &'static str, name: &'static str) -> Province {
    Province { code, name }
}

/// All 63 codes, sorted by code: [`name`] binary-searches this order.
pub static PROVINCES: &[Province] = &[
    p("001", "Hà Nội"),
    p("002", "Hà Giang"),
    p("004", "Cao Bằng"),
    p("006", "Bắc Kạn"),
    p("008", "Tuyên Quang"),
    p("010", "Lào Cai"),
    p("011", "Điện Biên"),
    p("012", "Lai Châu"),
    p("014", "Sơn La"),
    p("015", "Yên Bái"),
    p("017", "Hòa Bình"),
    p("019", "Thái Nguyên"),
    p("020", "Lạng Sơn"),
    p("022", "Quảng Ninh"),
    p("024", "Bắc Giang"),
    p("025", "Phú Thọ"),
    p("026", "Vĩnh Phúc"),
    p("027", "Bắc Ninh"),
    p("030", "Hải Dương"),
    p("031", "Hải Phòng"),
    p("033", "Hưng Yên"),
    p("034", "Thái Bình"),
    p("035", "Hà Nam"),
    p("036", "Nam Định"),
    p("037", "Ninh Bình"),
    p("038", "Thanh Hóa"),
    p("040", "Nghệ An"),
    p("042", "Hà Tĩnh"),
    p("044", "Quảng Bình"),
    p("045", "Quảng Trị"),
    p("046", "Thừa Thiên Huế"),
    p("048", "Đà Nẵng"),
    p("049", "Quảng Nam"),
    p("051", "Quảng Ngãi"),
    p("052", "Bình Định"),
    p("054", "Phú Yên"),
    p("056", "Khánh Hòa"),
    p("058", "Ninh Thuận"),
    p("060", "Bình Thuận"),
    p("062", "Kon Tum"),
    p("064", "Gia Lai"),
    p("066", "Đắk Lắk"),
    p("067", "Đắk Nông"),
    p("068", "Lâm Đồng"),
    p("070", "Bình Phước"),
    p("072", "Tây Ninh"),
    p("074", "Bình Dương"),
    p("075", "Đồng Nai"),
    p("077", "Bà Rịa - Vũng Tàu"),
    p("079", "Hồ Chí Minh"),
    p("080", "Long An"),
    p("082", "Tiền Giang"),
    p("083", "Bến Tre"),
    p("084", "Trà Vinh"),
    p("086", "Vĩnh Long"),
    p("087", "Đồng Tháp"),
    p("089", "An Giang"),
    p("091", "Kiên Giang"),
    p("092", "Cần Thơ"),
    p("093", "Hậu Giang"),
    p("094", "Sóc Trăng"),
    p("095", "Bạc Liêu"),
    p("096", "Cà Mau"),
];

/// The province registered under a three-digit code, or `None` for a code nobody holds.
///
/// Runs on every number parse, hence a binary search over the sorted table rather
/// than a scan; all codes have the same length, so byte order is numeric order.
pub fn name(code: &str) -> Option<&'static str> {
    PROVINCES
        .binary_search_by(|province| province.code.cmp(code))
        .ok()
        .and_then(|index| PROVINCES.get(index))
        .map(|province| province.name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn there_are_63_provinces_and_cities() {
        assert_eq!(PROVINCES.len(), 63);
    }

    #[test]
    fn codes_are_three_digits_sorted_and_unique() {
        for province in PROVINCES {
            assert_eq!(province.code.len(), 3, "{}", province.code);
            assert!(province.code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(PROVINCES.windows(2).all(|w| w[0].code < w[1].code));
        let names: HashSet<_> = PROVINCES.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), PROVINCES.len());
    }

    #[test]
    fn names_are_precomposed() {
        for province in PROVINCES {
            assert!(
                !province
                    .name
                    .chars()
                    .any(|c| ('\u{0300}'..='\u{036F}').contains(&c)),
                "{} has a combining mark",
                province.code
            );
        }
    }

    #[test]
    fn every_code_in_the_table_is_found() {
        for province in PROVINCES {
            assert_eq!(name(province.code), Some(province.name));
        }
    }

    #[test]
    fn known_codes_resolve() {
        assert_eq!(name("001"), Some("Hà Nội"));
        assert_eq!(name("046"), Some("Thừa Thiên Huế"));
        assert_eq!(name("077"), Some("Bà Rịa - Vũng Tàu"));
        assert_eq!(name("079"), Some("Hồ Chí Minh"));
        assert_eq!(name("096"), Some("Cà Mau"));
    }

    #[test]
    fn unassigned_and_malformed_codes_miss() {
        for code in [
            "003", "000", "005", "097", "099", "999", "", "01", "0011", "abc", " 01",
        ] {
            assert_eq!(name(code), None, "{code:?}");
        }
    }
}
