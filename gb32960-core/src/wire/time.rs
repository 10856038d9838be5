//! The six-byte time of every data unit (2016 Table 5 / 2025 T5).

use core::fmt;

/// `YY MM DD hh mm ss`, binary (not BCD), Beijing time (GMT+8). The bytes are kept as sent, so a
/// time with an out-of-range month still round-trips; [`Time::is_valid`] tells whether it is a
/// real calendar time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Time(pub [u8; 6]);

impl Time {
    /// Size on the wire.
    pub const LEN: usize = 6;

    /// A time from its parts; `year` is the full year (2000-2255 fits the byte).
    pub const fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Self {
        Time([year.wrapping_sub(2000) as u8, month, day, hour, minute, second])
    }

    /// Full year (2000 + the year byte).
    pub const fn year(&self) -> u16 {
        2000 + self.0[0] as u16
    }
    /// Month byte (1-12 when valid).
    pub const fn month(&self) -> u8 {
        self.0[1]
    }
    /// Day byte (1-31 when valid).
    pub const fn day(&self) -> u8 {
        self.0[2]
    }
    /// Hour byte (0-23 when valid).
    pub const fn hour(&self) -> u8 {
        self.0[3]
    }
    /// Minute byte (0-59 when valid).
    pub const fn minute(&self) -> u8 {
        self.0[4]
    }
    /// Second byte (0-59 when valid).
    pub const fn second(&self) -> u8 {
        self.0[5]
    }

    /// Whether this is a real calendar time with the year byte in 0-99 as the standard asks.
    pub fn is_valid(&self) -> bool {
        let [y, mo, d, h, mi, s] = self.0;
        y <= 99
            && (1..=12).contains(&mo)
            && d >= 1
            && d <= days_in_month(2000 + i64::from(y), mo)
            && h <= 23
            && mi <= 59
            && s <= 59
    }

    /// Seconds since 1970-01-01T00:00:00Z, reading this time as GMT+8. `None` when not valid.
    pub fn to_unix(&self) -> Option<i64> {
        if !self.is_valid() {
            return None;
        }
        let days = days_from_civil(i64::from(self.year()), i64::from(self.month()), i64::from(self.day()));
        let secs =
            days * 86_400 + i64::from(self.hour()) * 3600 + i64::from(self.minute()) * 60 + i64::from(self.second());
        Some(secs - 8 * 3600)
    }

    /// The GMT+8 wall time of a Unix timestamp. `None` outside the years 2000-2099.
    pub fn from_unix(unix: i64) -> Option<Self> {
        let local = unix + 8 * 3600;
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(2000..=2099).contains(&y) {
            return None;
        }
        Some(Time::new(
            y as u16,
            m as u8,
            d as u8,
            (sod / 3600) as u8,
            (sod / 60 % 60) as u8,
            (sod % 60) as u8,
        ))
    }

    /// Days since 1970-01-01 of this time's calendar day (GMT+8), for "restarts each day" rules.
    pub fn day_number(&self) -> Option<i64> {
        self.is_valid()
            .then(|| days_from_civil(i64::from(self.year()), i64::from(self.month()), i64::from(self.day())))
    }

    /// Parses `YYYY-MM-DD hh:mm:ss` (also with `T` between date and time). Out-of-range numbers
    /// are accepted as long as each fits its byte, so that any time that was decoded (and shown
    /// by `Display`, which may then print three digits) can be encoded again.
    pub fn parse_str(s: &str) -> Option<Self> {
        let mut parts = [0u32; 6];
        let seps = [b'-', b'-', b' ', b':', b':'];
        let mut b = s.as_bytes();
        for (k, slot) in parts.iter_mut().enumerate() {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 || digits > 4 {
                return None;
            }
            *slot = b[..digits].iter().fold(0, |v, c| v * 10 + u32::from(c - b'0'));
            b = &b[digits..];
            if k < 5 {
                match b.split_first() {
                    Some((&c, rest)) if c == seps[k] || (k == 2 && c == b'T') => b = rest,
                    _ => return None,
                }
            }
        }
        if !b.is_empty() || !(2000..=2255).contains(&parts[0]) {
            return None;
        }
        let mut out = [(parts[0] - 2000) as u8, 0, 0, 0, 0, 0];
        for k in 1..6 {
            out[k] = u8::try_from(parts[k]).ok()?;
        }
        Some(Time(out))
    }
}

impl fmt::Display for Time {
    /// `YYYY-MM-DD hh:mm:ss`, whatever the bytes hold (so that the text maps back to them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year(),
            self.month(),
            self.day(),
            self.hour(),
            self.minute(),
            self.second()
        )
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Time({self})")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's civil-date algorithms (public domain), in days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_round_trip_and_gmt8() {
        let t = Time::new(2024, 5, 20, 8, 30, 15);
        let u = t.to_unix().unwrap();
        assert_eq!(u, 1_716_165_015); // 2024-05-20T00:30:15Z
        assert_eq!(Time::from_unix(u), Some(t));
        assert_eq!(t.to_string(), "2024-05-20 08:30:15");
        assert_eq!(Time::parse_str("2024-05-20 08:30:15"), Some(t));
    }

    #[test]
    fn odd_bytes_round_trip_through_text() {
        let t = Time([200, 13, 0, 25, 61, 255]);
        assert!(!t.is_valid());
        assert_eq!(Time::parse_str(&t.to_string()), Some(t));
        assert!(!Time([24, 2, 30, 0, 0, 0]).is_valid());
        assert!(Time([24, 2, 29, 0, 0, 0]).is_valid());
    }
}
