//! A synthetic population for the register: deterministic, fast and plausible.
//!
//! `citizen-idp population generate --count N` and demo seeding fill the register with
//! citizens who look Vietnamese without being anyone: family names weighted by their
//! real frequency, middle names by sex and generation, given names, addresses written
//! the way each region writes them, birth places weighted by the 2019 census, and ID
//! cards dated by the renewal ages of the law. Every citizen is invented.
//!
//! The randomness is a SplitMix64 stream from a caller's seed, so the same seed yields
//! the same population and fixtures are reproducible. It is predictable by design:
//! nothing generated here may serve as a secret.
//!
//! Within one generator every personal identification number is distinct (the argument
//! is on `claim_serial`); two generators, whatever their seeds, keep separate counters
//! and may produce the same number, so a population that must be unique comes from one.

mod cities;
mod names;
mod places;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};

use crate::domain::citizen::{Address, Citizen, LifeStatus, Sex};
use crate::domain::national_id::NationalId;
use crate::domain::province::PROVINCES;
use names::{
    FAMILY_CUMULATIVE, FAMILY_NAMES, FEMALE_GIVEN, FEMALE_MIDDLE, FEMALE_SECOND, MALE_GIVEN,
    MALE_MIDDLE, MALE_SECOND,
};
use places::{
    NUMBERED_WARDS, PROFILES, PROVINCE_COUNT, PROVINCE_CUMULATIVE, PROVINCE_URBAN_PER_MILLE,
    Region, STREETS, Towns,
};

/// Generates citizens one at a time from a seed; see the module documentation.
#[derive(Clone)]
pub struct PopulationGenerator {
    rng: SplitMix64,
    /// Keys the serial permutation, so different seeds number their citizens differently.
    serial_key: u64,
    /// Serials handed out so far, per (province, sex, birth year modulo 100).
    counters: Box<[u32]>,
}

impl PopulationGenerator {
    /// A generator whose output is fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = SplitMix64 { state: seed };
        let serial_key = rng.next_u64();
        Self {
            rng,
            serial_key,
            counters: vec![0; COUNTER_CELLS].into_boxed_slice(),
        }
    }

    /// The next citizen of the population.
    ///
    /// `today` bounds birth dates and card dates; `now` is the `updated_at` stamp.
    pub fn next_citizen(&mut self, today: NaiveDate, now: NaiveDateTime) -> Citizen {
        let sex = if self.rng.next_u64() >> 63 == 0 {
            Sex::Male
        } else {
            Sex::Female
        };
        let age = self.rng.weighted(&AGE_CUMULATIVE) as u32;
        let birth_date = self.birth_date(age, today);

        let wanted = self.rng.weighted(&PROVINCE_CUMULATIVE);
        let (birth_province, serial) = self.claim_serial(wanted, sex, birth_date.year());
        let national_id =
            NationalId::compose(PROFILES[birth_province].code, sex, birth_date, serial);

        let name = self.name(sex, age);

        // Most people live, and have their roots, where they were born; the rest are
        // spread like the population, which sends migrants to the big cities.
        let origin = if self.rng.chance(750) {
            birth_province
        } else {
            self.rng.weighted(&PROVINCE_CUMULATIVE)
        };
        let residence = if self.rng.chance(850) {
            birth_province
        } else {
            self.rng.weighted(&PROVINCE_CUMULATIVE)
        };
        let address = self.address(residence);

        let (id_card_issued_on, id_card_expires_on) = self.card_dates(birth_date, today);
        let life_status = if self.rng.chance(5) {
            LifeStatus::Deceased
        } else {
            LifeStatus::Living
        };

        Citizen {
            id_card_number: national_id.expose().to_owned(),
            national_id,
            full_name: name.full(),
            family_name: name.family.to_owned(),
            middle_name: name.middle(),
            given_name: name.given.to_owned(),
            birth_date,
            sex,
            nationality: "VN".to_owned(),
            place_of_origin: province_name(origin).to_owned(),
            address,
            id_card_issued_on,
            id_card_expires_on,
            life_status,
            updated_at: now,
        }
    }

    /// A birth date `age` years (give or take the calendar) before `today`.
    fn birth_date(&mut self, age: u32, today: NaiveDate) -> NaiveDate {
        // 365.2425 days a year, rounded down, plus a day within that year of life: at
        // most 36 888 days for age 100, while 101 years always span at least 36 889,
        // so nobody is older than `MAX_AGE`.
        let days = u64::from(age) * 3_652_425 / 10_000 + u64::from(self.rng.below(365));
        today.checked_sub_days(Days::new(days)).unwrap_or(today)
    }

    /// Picks the serial for a birth and, only if the wanted province is exhausted, moves
    /// the birth to another province. Returns the province index and the serial.
    ///
    /// Uniqueness: a number is (province code, century/sex digit, two year digits,
    /// serial). Each citizen takes the next value of the counter for its (province,
    /// sex, birth year mod 100), and the serial is a bijection of that value. Two
    /// citizens with equal numbers would share province, sex and year digits, hence a
    /// counter, and share the serial, hence the counter value, which a counter hands
    /// out only once. Years a century apart share a counter: that wastes slots (their
    /// century digits differ) but stays correct even where `compose` clamps a century.
    ///
    /// Capacity: a counter holds 10^6 values. The busiest (Hồ Chí Minh, 9.3% of births,
    /// one sex, the peak birth year at 1.6%) fills after about 1.3 billion citizens;
    /// then births move to the next province with room, so numbers stay unique until
    /// one (sex, year digits) pair has used all 63 million of its slots, at about 8
    /// billion citizens. Past that, serials wrap and numbers can repeat.
    fn claim_serial(&mut self, wanted: usize, sex: Sex, birth_year: i32) -> (usize, u32) {
        let sex_index = match sex {
            Sex::Male => 0,
            Sex::Female => 1,
        };
        let year_digits = birth_year.rem_euclid(100) as usize;
        let cell_of = |province: usize| (province * 2 + sex_index) * 100 + year_digits;
        for step in 0..PROVINCE_COUNT {
            let province = (wanted + step) % PROVINCE_COUNT;
            let cell = cell_of(province);
            let taken = self.counters[cell];
            if taken < SERIALS {
                self.counters[cell] = taken + 1;
                return (province, self.permute_serial(cell, taken));
            }
        }
        let cell = cell_of(wanted);
        let taken = self.counters[cell];
        self.counters[cell] = taken.wrapping_add(1);
        (wanted, self.permute_serial(cell, taken % SERIALS))
    }

    /// A keyed bijection of `0..SERIALS`, so that serials look random yet stay distinct:
    /// a four-round Feistel network over the two three-digit halves.
    fn permute_serial(&self, cell: usize, value: u32) -> u32 {
        let key = self.serial_key ^ (cell as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let (mut left, mut right) = (value / 1000, value % 1000);
        for round in 0..4u64 {
            let f = (mix64(key ^ ((round << 32) | u64::from(right))) % 1000) as u32;
            (left, right) = (right, (left + f) % 1000);
        }
        left * 1000 + right
    }

    fn name(&mut self, sex: Sex, age: u32) -> Name {
        let family = FAMILY_NAMES[self.rng.weighted(&FAMILY_CUMULATIVE)].0;
        // "Văn" and "Thị" were near universal for the parents' generation and are now
        // one choice among many; compound middle names are a recent fashion.
        let older = age >= 40;
        let (first, second, given_names) = match sex {
            Sex::Male => {
                if self.rng.chance(if older { 500 } else { 120 }) {
                    ("Văn", None, MALE_GIVEN)
                } else {
                    let first = self.rng.pick_other(MALE_MIDDLE, family);
                    let second = self
                        .rng
                        .chance(if older { 30 } else { 150 })
                        .then(|| self.rng.pick_other(MALE_SECOND, first));
                    (first, second, MALE_GIVEN)
                }
            }
            Sex::Female => {
                if self.rng.chance(if older { 700 } else { 200 }) {
                    let second = self.rng.chance(400).then(|| self.rng.pick(FEMALE_MIDDLE));
                    ("Thị", second, FEMALE_GIVEN)
                } else {
                    let first = self.rng.pick_other(FEMALE_MIDDLE, family);
                    let second = self
                        .rng
                        .chance(if older { 50 } else { 200 })
                        .then(|| self.rng.pick_other(FEMALE_SECOND, first));
                    (first, second, FEMALE_GIVEN)
                }
            }
        };
        // The given name never repeats a middle word: stepping through a list of distinct
        // names meets at most two collisions before a free one.
        let mut index = self.rng.below(given_names.len() as u32) as usize;
        while given_names[index] == first || Some(given_names[index]) == second {
            index = (index + 1) % given_names.len();
        }
        Name {
            family,
            first,
            second,
            given: given_names[index],
        }
    }

    fn address(&mut self, province: usize) -> Address {
        let profile = &PROFILES[province];
        let region = Region::of(profile.code);
        let (urban, district, wards) = match profile.towns {
            Towns::City {
                urban_per_mille,
                urban: town_districts,
                rural: country_districts,
            } => {
                let is_urban = self.rng.chance(urban_per_mille);
                let districts = if is_urban {
                    town_districts
                } else {
                    country_districts
                };
                let district = self.rng.pick(districts);
                (is_urban, district.name, district.wards)
            }
            Towns::Province { capital } => {
                if self.rng.chance(PROVINCE_URBAN_PER_MILLE) {
                    // Southern and central towns often number their wards.
                    let numbered = region != Region::North && self.rng.chance(400);
                    let wards = if numbered {
                        NUMBERED_WARDS
                    } else {
                        region.urban_wards()
                    };
                    (true, capital, wards)
                } else {
                    (
                        false,
                        self.rng.pick(region.rural_districts()),
                        region.communes(),
                    )
                }
            }
        };

        let mut ward = String::with_capacity(24);
        if urban {
            ward.push_str("Phường ");
            if wards.is_empty() {
                push_decimal(&mut ward, 1 + self.rng.below(15));
            } else {
                ward.push_str(self.rng.pick(wards));
            }
        } else {
            ward.push_str("Xã ");
            ward.push_str(self.rng.pick(wards));
        }

        Address {
            street: self.street(region, urban),
            ward,
            district: district.to_owned(),
            province: province_name(province).to_owned(),
            country: "VN".to_owned(),
        }
    }

    /// A house on a street in town ("Số 12 đường Lê Lợi", with the alley conventions of
    /// each region), or a hamlet in the countryside ("Thôn 3", "Ấp 2").
    fn street(&mut self, region: Region, urban: bool) -> String {
        let mut street = String::with_capacity(48);
        if !urban {
            street.push_str(match region {
                Region::North if self.rng.chance(500) => "Xóm ",
                Region::North | Region::Central => "Thôn ",
                Region::South => "Ấp ",
            });
            push_decimal(&mut street, 1 + self.rng.below(12));
            return street;
        }

        let house = 1 + self.rng.below(199);
        let name = self.rng.pick(STREETS);
        let kind = if region == Region::North && self.rng.chance(400) {
            " phố "
        } else {
            " đường "
        };
        street.push_str("Số ");
        if self.rng.chance(300) {
            let alley = 1 + self.rng.below(150);
            match region {
                // "Số 12/5": house 5 of the lane at number 12.
                Region::South => {
                    push_decimal(&mut street, alley);
                    street.push('/');
                    push_decimal(&mut street, house % 60 + 1);
                }
                Region::North | Region::Central => {
                    push_decimal(&mut street, house % 60 + 1);
                    street.push_str(if region == Region::North {
                        " ngõ "
                    } else {
                        " kiệt "
                    });
                    push_decimal(&mut street, alley);
                }
            }
        } else {
            push_decimal(&mut street, house);
        }
        street.push_str(kind);
        street.push_str(name);
        street
    }

    /// Card dates under the Law on Citizen Identification: first issued at 14 (children
    /// in this synthetic register may hold one earlier), never before the CCCD existed,
    /// and renewed at 25, 40 and 60, so that every card is still valid on `today`.
    fn card_dates(&mut self, birth: NaiveDate, today: NaiveDate) -> (NaiveDate, Option<NaiveDate>) {
        let birthday = |age: u32| birth.checked_add_months(Months::new(age * 12));
        let mut earliest = match birthday(CARD_FIRST_AGE) {
            Some(due) if due <= today => due,
            _ => birth,
        }
        .max(CARD_START);
        // A holder past a renewal age carries the card renewed for it, which cannot
        // predate that renewal's window.
        for (renew_from, renewal_age) in CARD_VALIDITY {
            match (birthday(renewal_age), birthday(renew_from)) {
                (Some(due), Some(from)) if due <= today => earliest = earliest.max(from),
                _ => break,
            }
        }
        let earliest = earliest.min(today);
        let span = today.signed_duration_since(earliest).num_days();
        let offset = self.rng.below(u32::try_from(span + 1).unwrap_or(1));
        let issued = earliest
            .checked_add_days(Days::new(u64::from(offset)))
            .unwrap_or(earliest);

        let mut expires = None;
        for (renew_from, renewal_age) in CARD_VALIDITY {
            if birthday(renew_from).is_some_and(|from| issued < from) {
                // Later than `from`, itself later than `issued`.
                expires = birthday(renewal_age);
                break;
            }
        }
        (issued, expires)
    }
}

/// The three parts of a name, borrowed from the tables until the citizen owns them.
struct Name {
    family: &'static str,
    first: &'static str,
    second: Option<&'static str>,
    given: &'static str,
}

impl Name {
    fn middle(&self) -> String {
        let mut middle =
            String::with_capacity(self.first.len() + self.second.map_or(0, |s| s.len() + 1));
        middle.push_str(self.first);
        if let Some(second) = self.second {
            middle.push(' ');
            middle.push_str(second);
        }
        middle
    }

    fn full(&self) -> String {
        let len = self.family.len()
            + self.first.len()
            + self.second.map_or(0, |s| s.len() + 1)
            + self.given.len()
            + 2;
        let mut full = String::with_capacity(len);
        full.push_str(self.family);
        full.push(' ');
        full.push_str(self.first);
        if let Some(second) = self.second {
            full.push(' ');
            full.push_str(second);
        }
        full.push(' ');
        full.push_str(self.given);
        full
    }
}

/// SplitMix64 (Steele, Lea and Flood, 2014): one addition and two multiplications a
/// draw, statistically sound for simulation, and trivially seeded. Not cryptographic.
#[derive(Clone)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0) by Lemire's multiply-shift; its bias, below
    /// n / 2^32, is far under anything a synthetic population could show.
    fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u32) as usize]
    }

    /// A pick other than `avoid`: on a clash, the next entry (entries are distinct).
    fn pick_other(&mut self, items: &[&'static str], avoid: &str) -> &'static str {
        let index = self.below(items.len() as u32) as usize;
        if items[index] == avoid {
            items[(index + 1) % items.len()]
        } else {
            items[index]
        }
    }

    /// An index drawn with the weights whose running totals are `cumulative`.
    fn weighted(&mut self, cumulative: &[u32]) -> usize {
        let total = cumulative.last().copied().unwrap_or(0);
        let draw = self.below(total);
        cumulative
            .partition_point(|&sum| sum <= draw)
            .min(cumulative.len().saturating_sub(1))
    }
}

/// The SplitMix64 output function: a bijective 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Appends `n` in decimal without going through `fmt`, which costs more than the rest
/// of an address.
fn push_decimal(out: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

fn province_name(index: usize) -> &'static str {
    PROVINCES.get(index).map_or("", |province| province.name)
}

const SERIALS: u32 = 1_000_000;
const COUNTER_CELLS: usize = PROVINCE_COUNT * 2 * 100;

const MAX_AGE: usize = 100;

/// Relative number of people of each age, after the shape of Vietnam's population
/// pyramid (2019 census): broad up to middle age, thinning fast after 60.
const fn age_weight(age: usize) -> u32 {
    match age {
        0..=14 => 160,
        15..=24 => 145,
        25..=39 => 170,
        40..=49 => 150,
        50..=59 => 125,
        60..=69 => 90,
        70..=79 => 45,
        80..=89 => 20,
        90..=99 => 4,
        _ => 1,
    }
}

const AGE_CUMULATIVE: [u32; MAX_AGE + 1] = {
    let mut out = [0; MAX_AGE + 1];
    let mut sum = 0;
    let mut age = 0;
    while age <= MAX_AGE {
        sum += age_weight(age);
        out[age] = sum;
        age += 1;
    }
    out
};

/// Card renewal under the Law on Citizen Identification: a card issued before the
/// first age of a pair is valid until the second; one issued from 58 on never expires.
const CARD_VALIDITY: [(u32, u32); 3] = [(23, 25), (38, 40), (58, 60)];
const CARD_FIRST_AGE: u32 = 14;
/// The citizen identity card (CCCD), first with a barcode and from 2021 with a chip,
/// has been issued since 2016.
const CARD_START: NaiveDate = match NaiveDate::from_ymd_opt(2016, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::places::{
        CENTRAL_COMMUNES, CENTRAL_RURAL_DISTRICTS, CENTRAL_URBAN_WARDS, NORTH_COMMUNES,
        NORTH_RURAL_DISTRICTS, NORTH_URBAN_WARDS, SOUTH_COMMUNES, SOUTH_RURAL_DISTRICTS,
        SOUTH_URBAN_WARDS,
    };
    use super::*;
    use crate::domain::province::name;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 4, 20).unwrap()
    }

    fn now() -> NaiveDateTime {
        today().and_hms_opt(9, 30, 0).unwrap()
    }

    fn population(seed: u64, count: usize) -> Vec<Citizen> {
        let mut generator = PopulationGenerator::new(seed);
        (0..count)
            .map(|_| generator.next_citizen(today(), now()))
            .collect()
    }

    fn has_combining_mark(s: &str) -> bool {
        s.chars().any(|c| ('\u{0300}'..='\u{036F}').contains(&c))
    }

    #[test]
    fn every_number_parses_and_encodes_sex_and_birth_year() {
        for citizen in population(1, 20_000) {
            let parsed = NationalId::parse(citizen.national_id.expose()).unwrap();
            assert_eq!(parsed.sex(), citizen.sex);
            assert_eq!(parsed.birth_year(), citizen.birth_date.year());
            assert_eq!(citizen.id_card_number, citizen.national_id.expose());
        }
    }

    #[test]
    fn a_hundred_thousand_numbers_are_unique() {
        let mut generator = PopulationGenerator::new(7);
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let citizen = generator.next_citizen(today(), now());
            assert!(seen.insert(citizen.national_id.expose().to_owned()));
        }
    }

    #[test]
    fn a_full_counter_moves_the_birth_to_the_next_province() {
        let mut generator = PopulationGenerator::new(3);
        let year_digits = 90;
        let full = (5 * 2) * 100 + year_digits;
        generator.counters[full] = SERIALS;
        let (province, _) = generator.claim_serial(5, Sex::Male, 1990);
        assert_eq!(province, 6);
        let (province, _) = generator.claim_serial(5, Sex::Female, 1990);
        assert_eq!(province, 5);
    }

    #[test]
    fn serials_are_a_permutation_of_six_digits() {
        let generator = PopulationGenerator::new(11);
        let mut seen = vec![false; SERIALS as usize];
        for value in 0..SERIALS {
            let serial = generator.permute_serial(1234, value);
            assert!(serial < SERIALS);
            assert!(!seen[serial as usize]);
            seen[serial as usize] = true;
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_population() {
        assert_eq!(population(42, 1_000), population(42, 1_000));
        assert_ne!(population(42, 100), population(43, 100));
    }

    #[test]
    fn births_are_in_the_past_and_ages_are_plausible() {
        let citizens = population(5, 100_000);
        let mut young_adults = 0;
        let mut nonagenarians = 0;
        for citizen in &citizens {
            assert!(citizen.birth_date <= today());
            let age = today().years_since(citizen.birth_date).unwrap();
            assert!(age <= 100, "age {age}");
            if (20..30).contains(&age) {
                young_adults += 1;
            }
            if age >= 90 {
                nonagenarians += 1;
            }
        }
        assert!(young_adults > 10 * nonagenarians.max(1));
    }

    #[test]
    fn sexes_are_balanced_and_deaths_rare() {
        let citizens = population(9, 100_000);
        let men = citizens.iter().filter(|c| c.sex == Sex::Male).count();
        assert!((48_000..=52_000).contains(&men), "{men} men");
        let dead = citizens.iter().filter(|c| !c.is_living()).count();
        assert!((300..=700).contains(&dead), "{dead} deceased");
        assert!(citizens.iter().all(|c| c.updated_at == now()));
    }

    #[test]
    fn cards_follow_the_renewal_ages_and_are_valid_today() {
        for citizen in population(13, 50_000) {
            let issued = citizen.id_card_issued_on;
            assert!(issued >= citizen.birth_date);
            assert!(issued >= CARD_START);
            assert!(issued <= today());
            let age_at_issue = issued.years_since(citizen.birth_date).unwrap();
            match citizen.id_card_expires_on {
                Some(expires) => {
                    assert!(expires > issued);
                    assert!(expires > today());
                    let age_at_expiry = expires.years_since(citizen.birth_date).unwrap();
                    // A 29 February birthday falls on the 28th in common years.
                    assert!([24, 25, 39, 40, 59, 60].contains(&age_at_expiry));
                }
                None => assert!(age_at_issue >= 57, "issued at {age_at_issue}"),
            }
            if today().years_since(citizen.birth_date).unwrap() >= 15 {
                assert!(age_at_issue >= 13, "issued at {age_at_issue}");
            }
        }
    }

    #[test]
    fn cards_are_sound_even_before_the_chip_card_existed() {
        let today = NaiveDate::from_ymd_opt(2010, 6, 1).unwrap();
        let now = today.and_hms_opt(0, 0, 0).unwrap();
        let mut generator = PopulationGenerator::new(17);
        for _ in 0..5_000 {
            let citizen = generator.next_citizen(today, now);
            assert!(citizen.birth_date <= today);
            assert!(citizen.id_card_issued_on <= today);
            if let Some(expires) = citizen.id_card_expires_on {
                assert!(expires > citizen.id_card_issued_on);
            }
        }
    }

    #[test]
    fn names_are_well_formed_and_precomposed() {
        for citizen in population(21, 50_000) {
            let expected = format!(
                "{} {} {}",
                citizen.family_name, citizen.middle_name, citizen.given_name
            );
            assert_eq!(citizen.full_name, expected);
            assert!(!citizen.middle_name.is_empty());
            assert!(!citizen.full_name.contains("  "));
            assert!(
                !citizen
                    .middle_name
                    .split(' ')
                    .any(|w| w == citizen.given_name)
            );
            for text in [
                &citizen.full_name,
                &citizen.place_of_origin,
                &citizen.address.street,
                &citizen.address.ward,
                &citizen.address.district,
                &citizen.address.province,
            ] {
                assert!(!has_combining_mark(text), "{text}");
                assert_eq!(text.trim(), text.as_str());
            }
        }
    }

    #[test]
    fn every_table_entry_is_precomposed() {
        let mut all: Vec<&str> = Vec::new();
        all.extend(FAMILY_NAMES.iter().map(|(name, _)| *name));
        for table in [
            MALE_MIDDLE,
            MALE_SECOND,
            FEMALE_MIDDLE,
            FEMALE_SECOND,
            MALE_GIVEN,
            FEMALE_GIVEN,
            STREETS,
            NORTH_URBAN_WARDS,
            CENTRAL_URBAN_WARDS,
            SOUTH_URBAN_WARDS,
            NORTH_RURAL_DISTRICTS,
            CENTRAL_RURAL_DISTRICTS,
            SOUTH_RURAL_DISTRICTS,
            NORTH_COMMUNES,
            CENTRAL_COMMUNES,
            SOUTH_COMMUNES,
        ] {
            all.extend(table);
        }
        for profile in PROFILES {
            match profile.towns {
                Towns::City { urban, rural, .. } => {
                    for district in urban.iter().chain(rural) {
                        all.push(district.name);
                        all.extend(district.wards);
                    }
                }
                Towns::Province { capital } => all.push(capital),
            }
        }
        for text in all {
            assert!(!text.is_empty());
            assert!(!has_combining_mark(text), "{text}");
            assert_eq!(text.trim(), text);
        }
        assert!(MALE_GIVEN.len() >= 30 && FEMALE_GIVEN.len() >= 30);
    }

    #[test]
    fn profiles_line_up_with_the_province_table() {
        assert_eq!(PROVINCES.len(), PROVINCE_COUNT);
        for (profile, province) in PROFILES.iter().zip(PROVINCES) {
            assert_eq!(profile.code, province.code);
        }
    }

    #[test]
    fn addresses_name_real_provinces() {
        let names: HashSet<_> = PROVINCES.iter().map(|p| p.name).collect();
        let citizens = population(31, 20_000);
        for citizen in &citizens {
            assert_eq!(citizen.nationality, "VN");
            assert_eq!(citizen.address.country, "VN");
            assert!(names.contains(citizen.place_of_origin.as_str()));
            assert!(names.contains(citizen.address.province.as_str()));
            assert!(!citizen.address.street.is_empty());
            assert!(
                citizen.address.ward.starts_with("Phường ")
                    || citizen.address.ward.starts_with("Xã ")
            );
        }
        // Hồ Chí Minh and Hà Nội each hold several percent of births.
        let born_in = |code: &str| {
            citizens
                .iter()
                .filter(|c| c.national_id.province_code() == code)
                .count()
        };
        assert!(born_in("079") > 1_000);
        assert!(born_in("079") > 5 * born_in("006"));
        let moved = citizens
            .iter()
            .filter(|c| Some(c.address.province.as_str()) != name(c.national_id.province_code()))
            .count();
        assert!((1_000..=5_000).contains(&moved), "{moved} moved");
    }
}
