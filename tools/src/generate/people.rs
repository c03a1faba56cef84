//! The user population: each user id maps to one stable profile (country, city, name, contact,
//! one or two addresses, preferred device), derived from the seed and the id alone.

use super::world::{
    CountryProfile, COUNTRY_PROFILES, DEVICES, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES,
};
use crate::rng::{Rng, Weighted};

const USER_DOMAIN: u64 = 0x05E5;

pub struct Population {
    seed: u64,
    size: u64,
    countries: Weighted,
    devices: Weighted,
    first_names_ascii: Vec<String>,
    last_names_ascii: Vec<String>,
}

/// One user's stable attributes (indices into the world tables, numbers for the rest).
pub struct Profile {
    pub index: u64,
    /// Index into [`COUNTRY_PROFILES`].
    pub country_index: usize,
    pub country: &'static CountryProfile,
    pub city: &'static str,
    pub first_name: usize,
    pub last_name: usize,
    pub email_domain: &'static str,
    pub email_number: u64,
    pub phone_number: u64,
    pub malformed_phone: bool,
    /// Street index, house number and postal seed of each address (1 or 2).
    pub addresses: [(usize, u64, u64); 2],
    pub address_count: usize,
    pub device: &'static str,
}

impl Population {
    pub fn new(seed: u64, size: u64) -> Self {
        Population {
            seed,
            size: size.max(1),
            countries: Weighted::new(COUNTRY_PROFILES.iter().map(|c| u64::from(c.traffic))),
            devices: Weighted::new(DEVICES.iter().map(|(_, w)| u64::from(*w))),
            first_names_ascii: FIRST_NAMES.iter().map(|n| ascii_lower(n)).collect(),
            last_names_ascii: LAST_NAMES.iter().map(|n| ascii_lower(n)).collect(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn profile(&self, index: u64) -> Profile {
        let mut rng = Rng::keyed(self.seed, USER_DOMAIN, index);
        let country_index = self.countries.pick(&mut rng);
        let country = &COUNTRY_PROFILES[country_index];
        let city = *rng.pick(country.cities);
        let first_name = rng.below(FIRST_NAMES.len() as u64) as usize;
        let last_name = rng.below(LAST_NAMES.len() as u64) as usize;
        let email_domain = *rng.pick(EMAIL_DOMAINS);
        let email_number = rng.below(100);
        let phone_number = rng.below(10u64.pow(country.phone_digits as u32 - 1))
            + 10u64.pow(country.phone_digits as u32 - 1);
        let malformed_phone = rng.chance(0.10);
        let mut address = || {
            (
                rng.below(country.streets.len() as u64) as usize,
                1 + rng.below(2_000),
                rng.next_u64(),
            )
        };
        let addresses = [address(), address()];
        let address_count = 1 + usize::from(rng.chance(0.35));
        let device = DEVICES[self.devices.pick(&mut rng)].0;
        Profile {
            index,
            country_index,
            country,
            city,
            first_name,
            last_name,
            email_domain,
            email_number,
            phone_number,
            malformed_phone,
            addresses,
            address_count,
            device,
        }
    }

    pub fn first_name_ascii(&self, profile: &Profile) -> &str {
        &self.first_names_ascii[profile.first_name]
    }

    pub fn last_name_ascii(&self, profile: &Profile) -> &str {
        &self.last_names_ascii[profile.last_name]
    }
}

/// "Müller" → "muller", "Min-jun" → "minjun": e-mail local parts stay ASCII.
fn ascii_lower(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' | 'É' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Formats a postal code from the country's pattern ('9' digit, 'A' letter).
pub fn push_postal_code(out: &mut Vec<u8>, format: &str, mut seed: u64) {
    for b in format.bytes() {
        match b {
            b'9' => {
                out.push(b'0' + (seed % 10) as u8);
                seed /= 10;
            }
            b'A' => {
                out.push(b'A' + (seed % 26) as u8);
                seed /= 26;
            }
            other => out.push(other),
        }
        if seed == 0 {
            seed = 0x2545_F491_4F6C_DD1D;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_stable_per_user() {
        let population = Population::new(9, 1_000);
        let a = population.profile(17);
        let b = population.profile(17);
        assert_eq!(
            (a.country.iso2, a.city, a.first_name, a.phone_number),
            (b.country.iso2, b.city, b.first_name, b.phone_number)
        );
    }

    #[test]
    fn postal_codes_follow_the_format() {
        let mut out = Vec::new();
        push_postal_code(&mut out, "A9A 9A9", 123_456_789);
        let text = String::from_utf8(out).unwrap();
        let shape: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    '9'
                } else if c.is_ascii_uppercase() {
                    'A'
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(shape, "A9A 9A9");
        assert_eq!(ascii_lower("Müller-Fernández"), "mullerfernandez");
    }
}
