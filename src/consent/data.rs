//! The data a service receives, as items a citizen understands ("your full name"),
//! from the scopes it asks for or the claim names the audit trail records. The pages
//! put them into words in each language.

use crate::domain::scope::ScopeSet;

/// One kind of data, in the order the pages list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DataItem {
    /// `sub`: an identifier that lets the service recognise the citizen.
    Identifier,
    FullName,
    BirthDate,
    Gender,
    Nationality,
    PlaceOfOrigin,
    PermanentAddress,
    NationalId,
    IdCard,
    /// `auth_time`, `acr`, `amr`: when and how the citizen logged in.
    LoginFacts,
    /// `offline_access`: the service keeps access while the citizen is away.
    OfflineAccess,
}

/// What a request for `scopes` would share.
pub fn for_scopes(scopes: &ScopeSet) -> Vec<DataItem> {
    let mut items = Vec::new();
    for scope in scopes.iter() {
        items.extend_from_slice(match scope {
            "openid" => &[DataItem::Identifier][..],
            "profile" => &[
                DataItem::FullName,
                DataItem::BirthDate,
                DataItem::Gender,
                DataItem::Nationality,
                DataItem::PlaceOfOrigin,
            ],
            "cross_border" => &[
                DataItem::FullName,
                DataItem::BirthDate,
                DataItem::Nationality,
            ],
            "address" => &[DataItem::PermanentAddress],
            "national_id" => &[DataItem::NationalId, DataItem::IdCard],
            "offline_access" => &[DataItem::OfflineAccess],
            _ => &[],
        });
    }
    items.sort();
    items.dedup();
    items
}

/// What a release of the claims named in `names` (space-separated, as audited) shared.
/// Protocol details (`exp`, `scope`, ...) are not data about the citizen and are left out.
pub fn for_claims(names: &str) -> Vec<DataItem> {
    let mut items: Vec<DataItem> = names
        .split(' ')
        .filter_map(|name| match name {
            "sub" => Some(DataItem::Identifier),
            "name" | "family_name" | "middle_name" | "given_name" => Some(DataItem::FullName),
            "birthdate" => Some(DataItem::BirthDate),
            "gender" => Some(DataItem::Gender),
            "nationalities" => Some(DataItem::Nationality),
            "place_of_origin" => Some(DataItem::PlaceOfOrigin),
            "address" => Some(DataItem::PermanentAddress),
            "national_id" => Some(DataItem::NationalId),
            "id_card" => Some(DataItem::IdCard),
            "auth_time" | "acr" | "amr" => Some(DataItem::LoginFacts),
            _ => None,
        })
        .collect();
    items.sort();
    items.dedup();
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_and_address_read_as_name_birth_date_and_address() {
        let items = for_scopes(&ScopeSet::parse("openid profile address").unwrap());
        assert!(items.contains(&DataItem::FullName));
        assert!(items.contains(&DataItem::BirthDate));
        assert!(items.contains(&DataItem::PermanentAddress));
        assert!(!items.contains(&DataItem::NationalId));
    }

    #[test]
    fn each_name_part_is_one_item_and_protocol_claims_are_left_out() {
        assert_eq!(
            for_claims("sub name family_name given_name exp scope"),
            vec![DataItem::Identifier, DataItem::FullName]
        );
    }
}
