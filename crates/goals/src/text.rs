//! Small text helpers for explanations.

/// 12345 → "12,345" (the explanations' and the participant pages' way of writing numbers).
pub fn thousands(n: i32) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 4);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 60 → "60th", 1 → "1st", 62.5 → "62.5th".
pub(crate) fn ordinal(p: f64) -> String {
    if p.fract() != 0.0 {
        return format!("{p}th");
    }
    let n = p as i64;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// "1 day" / "2 days".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_345), "12,345");
        assert_eq!(thousands(-1_234_567), "-1,234,567");
        assert_eq!(ordinal(60.0), "60th");
        assert_eq!(ordinal(1.0), "1st");
        assert_eq!(ordinal(22.0), "22nd");
        assert_eq!(ordinal(13.0), "13th");
        assert_eq!(ordinal(62.5), "62.5th");
        assert_eq!(plural(1, "day"), "1 day");
        assert_eq!(plural(3, "day"), "3 days");
    }
}
