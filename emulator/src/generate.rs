//! Builds a synthetic tenant of N users with a realistic mix of phones, and the matching HR
//! export with a chosen fraction of changes, deterministically from a seed number. Benchmarks
//! and soak tests use it instead of checked-in giant files.

use crate::dice::Dice;
use crate::tenant::{Seed, SeedPhone, SeedUser};
use std::io::Write;

/// A generated tenant and the HR rows that describe where it should go.
pub struct Generated {
    /// The tenant, in the seed format.
    pub seed: Seed,
    /// HR rows: (user, phoneType, phoneNumber as an HR system writes it).
    pub rows: Vec<(String, &'static str, String)>,
    /// Users whose HR rows differ from their current phones.
    pub changed_users: usize,
}

const AREAS: [u32; 10] = [206, 425, 253, 360, 509, 212, 312, 415, 617, 303];

/// A US number: (Graph form, digits).
fn number(d: &mut Dice) -> (u32, u32, u32) {
    let area = AREAS[d.below(AREAS.len() as u64) as usize];
    let exchange = loop {
        let e = 200 + d.below(800) as u32;
        if e % 100 != 11 && e != 555 && e != 950 && e != 958 && e != 959 && e != 976 {
            break e;
        }
    };
    (area, exchange, d.below(10_000) as u32)
}

fn graph_form((a, e, l): (u32, u32, u32)) -> String {
    format!("+1 {a}{e}{l:04}")
}

/// The ways HR systems write the same number.
fn hr_form((a, e, l): (u32, u32, u32), d: &mut Dice) -> String {
    match d.below(5) {
        0 => format!("({a}) {e}-{l:04}"),
        1 => format!("{a}-{e}-{l:04}"),
        2 => format!("+1 {a} {e} {l:04}"),
        3 => format!("{a}.{e}.{l:04}"),
        _ => format!("+1{a}{e}{l:04}"),
    }
}

/// Generates `users` users from `random_seed`; about `change_fraction` of them get HR rows
/// that differ from what they have.
pub fn generate(users: usize, random_seed: u64, change_fraction: f64) -> Generated {
    let mut d = Dice::new(random_seed);
    let mut seed = Seed {
        users: Vec::with_capacity(users),
    };
    let mut rows = Vec::with_capacity(users * 2);
    let mut changed_users = 0;
    for i in 0..users {
        let upn = format!("user{i:06}@contoso.com");
        let id = {
            let (a, b) = (d.next_u64(), d.next_u64());
            format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                (b >> 48) & 0x3fff | 0x8000,
                b & 0xffff_ffff_ffff
            )
        };
        // Current phones: [mobile, alternateMobile, office].
        let mut now: [Option<(u32, u32, u32)>; 3] = [None, None, None];
        match d.below(100) {
            0..10 => {}
            10..65 => now[0] = Some(number(&mut d)),
            65..80 => (now[0], now[2]) = (Some(number(&mut d)), Some(number(&mut d))),
            80..90 => (now[0], now[1]) = (Some(number(&mut d)), Some(number(&mut d))),
            90..95 => now[2] = Some(number(&mut d)),
            _ => now = [Some(number(&mut d)), Some(number(&mut d)), Some(number(&mut d))],
        }
        let mut want = now;
        if d.unit() < change_fraction {
            changed_users += 1;
            match d.below(5) {
                0 => want[0] = Some(number(&mut d)),
                1 => want[2] = Some(number(&mut d)),
                // A type change: the office number becomes the mobile.
                2 if now[2].is_some() => (want[0], want[2]) = (now[2], None),
                // An alternate for someone with a mobile.
                3 if now[0].is_some() => want[1] = Some(number(&mut d)),
                // Promote the alternate.
                4 if now[1].is_some() => (want[0], want[1]) = (now[1], None),
                _ => want[0] = Some(number(&mut d)),
            }
        }
        let types = ["mobile", "alternateMobile", "office"];
        let phone_methods = (0..3)
            .filter_map(|t| {
                now[t].map(|n| SeedPhone {
                    phone_type: types[t].to_string(),
                    phone_number: graph_form(n),
                })
            })
            .collect();
        seed.users.push(SeedUser {
            id: id.clone(),
            user_principal_name: upn.clone(),
            phone_methods,
            default_method: None,
            profile_phones: Vec::new(),
        });
        let key = if d.below(4) == 0 { id } else { upn };
        for (t, n) in want.iter().enumerate() {
            if let Some(n) = n {
                rows.push((key.clone(), types[t], hr_form(*n, &mut d)));
            }
        }
    }
    Generated { seed, rows, changed_users }
}

/// Generates a migration of `users` users from `random_seed`: each has one office phone, and
/// the HR rows say that number is now their mobile (a type change: add, then delete).
pub fn generate_type_changes(users: usize, random_seed: u64) -> Generated {
    let mut d = Dice::new(random_seed);
    let mut seed = Seed {
        users: Vec::with_capacity(users),
    };
    let mut rows = Vec::with_capacity(users);
    for i in 0..users {
        let upn = format!("user{i:06}@contoso.com");
        let n = number(&mut d);
        seed.users.push(SeedUser {
            id: format!("00000000-0000-4000-8000-{i:012}"),
            user_principal_name: upn.clone(),
            phone_methods: vec![SeedPhone {
                phone_type: "office".into(),
                phone_number: graph_form(n),
            }],
            default_method: None,
            profile_phones: Vec::new(),
        });
        rows.push((upn, "mobile", hr_form(n, &mut d)));
    }
    Generated {
        seed,
        rows,
        changed_users: users,
    }
}

impl Generated {
    /// Writes the HR rows as long-format CSV.
    pub fn write_csv(&self, out: impl Write) -> csv::Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(["user", "phoneType", "phoneNumber"])?;
        for (user, t, n) in &self.rows {
            w.write_record([user.as_str(), t, n.as_str()])?;
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::tables;
    use crate::tenant::Tenant;

    #[test]
    fn is_deterministic_and_holds_the_rules() {
        let a = generate(500, 7, 0.2);
        let b = generate(500, 7, 0.2);
        assert_eq!(a.seed, b.seed);
        assert_eq!(a.rows, b.rows);
        assert!(Tenant::from_seed(&a.seed, tables()).is_ok());
        assert!((60..140).contains(&a.changed_users), "{}", a.changed_users);
        assert_ne!(generate(500, 8, 0.2).seed, a.seed);
    }

    #[test]
    fn a_migration_moves_every_office_number_to_mobile() {
        let g = generate_type_changes(50, 3);
        assert!(Tenant::from_seed(&g.seed, tables()).is_ok());
        assert_eq!(g.rows.len(), 50);
        for (user, row) in g.seed.users.iter().zip(&g.rows) {
            assert_eq!(user.phone_methods.len(), 1);
            assert_eq!(user.phone_methods[0].phone_type, "office");
            assert_eq!((row.0.as_str(), row.1), (user.user_principal_name.as_str(), "mobile"));
            let digits: String = row.2.chars().filter(char::is_ascii_digit).collect();
            assert!(
                user.phone_methods[0]
                    .phone_number
                    .replace(' ', "")
                    .ends_with(&digits[digits.len() - 10..])
            );
        }
    }
}
