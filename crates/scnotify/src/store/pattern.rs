//! configd's watch patterns: POSIX extended regular expressions, anchored, matched against keys
//! treated as C strings (spec §6).
//!
//! NextBSD configd compiles patterns with the C library's `regcomp(REG_EXTENDED)` (Henry
//! Spencer's engine on FreeBSD) in the C locale. This module parses that dialect itself and
//! translates it into the `regex` crate's syntax, byte-oriented (`regex::bytes`, Unicode off,
//! `.` matching any byte), so that a pattern means here what it meant to configd:
//!
//! | ERE construct | handled as |
//! | --- | --- |
//! | `\c` for any `c` | the literal `c` (Spencer's rule; `\d`, `\w`, `\1` are **not** classes or back-references) |
//! | `[...]` bracket expressions | computed into a 256-byte set, emitted as hex ranges: a `\` inside brackets is literal, `]` first is literal, `-` first or last is literal, a range out of order or a dangling `-` is an error |
//! | `[:class:]` | the C-locale byte set (`isspace` includes `\v`, unlike `u8::is_ascii_whitespace`) |
//! | `[.c.]`, `[=c=]` | single-character collating elements only; multi-character names (`[.space.]`) are rejected |
//! | `*`, `+`, `?` at the start of an expression, after `(`, `|` or `^`, or repeated (`a**`, `a*?`) | error (`REG_BADRPT`); the `regex` crate would have read `*?` as a lazy quantifier and `(?i)` as flags |
//! | `{n}`, `{n,}`, `{n,m}` | bounds, `n ≤ m ≤ 255` (`RE_DUP_MAX`); `{` not followed by a digit is a literal |
//! | empty alternative (`a|`, `|a`, `(|a)`) | error (`REG_EMPTY`); `()` is allowed |
//! | unmatched `(` or `)` | error |
//! | `^`, `$` anywhere | anchors (never literals) |
//!
//! Matching only asks "does the key match", so the difference between POSIX leftmost-longest and
//! the `regex` crate's leftmost-first semantics never shows. Anchoring follows configd exactly,
//! including its quirks: `a|b` becomes `^a|b$` (only the outer alternatives are anchored), `a|`
//! becomes `^a|$` (which matches every key), and a trailing backslash escapes the appended `$`
//! (`abc\` matches the literal key `abc$`).
//!
//! Patterns containing a NUL byte are rejected (configd would have silently truncated them), and
//! so are patterns whose compiled form exceeds [`COMPILED_SIZE_LIMIT`].

use super::super::store_messages::CONFIG_DATA_MAX;
use std::fmt;
use thiserror::Error;

/// Largest bound in `{n,m}` (`RE_DUP_MAX`).
pub const RE_DUP_MAX: u32 = 255;
/// Memory limit for a compiled pattern; larger ones are refused like an over-long pattern.
pub const COMPILED_SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern does not compile. configd answers every one of them with
/// `kSCStatusInvalidArgument` (1002).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PatternError {
    /// The pattern is empty.
    #[error("empty pattern")]
    Empty,
    /// The pattern contains a NUL byte.
    #[error("pattern contains a NUL byte at offset {0}")]
    ContainsNul(usize),
    /// A POSIX syntax error, with `regcomp`'s error name and the offset where it was found.
    #[error("{kind} at offset {offset}")]
    Syntax {
        /// Which error.
        kind: EreErrorKind,
        /// Byte offset in the anchored pattern.
        offset: usize,
    },
    /// The translated pattern does not compile (in practice: too large).
    #[error("pattern does not compile: {0}")]
    Compile(String),
}

/// `regcomp` error codes this parser reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EreErrorKind {
    /// `REG_EBRACK`: unmatched `[`.
    Bracket,
    /// `REG_EPAREN`: unmatched `(` or `)`.
    Paren,
    /// `REG_EBRACE` / `REG_BADBR`: bad `{}` bound.
    Brace,
    /// `REG_ERANGE`: bad range in a bracket expression.
    Range,
    /// `REG_ECTYPE`: unknown character class.
    CharClass,
    /// `REG_ECOLLATE`: unsupported collating element.
    Collate,
    /// `REG_EESCAPE`: trailing backslash.
    Escape,
    /// `REG_BADRPT`: repetition operator without an operand.
    Repetition,
    /// `REG_EMPTY`: empty (sub)expression.
    Empty,
}

impl fmt::Display for EreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EreErrorKind::Bracket => "REG_EBRACK (unmatched [)",
            EreErrorKind::Paren => "REG_EPAREN (unmatched parenthesis)",
            EreErrorKind::Brace => "REG_BADBR (invalid repetition bound)",
            EreErrorKind::Range => "REG_ERANGE (invalid range)",
            EreErrorKind::CharClass => "REG_ECTYPE (unknown character class)",
            EreErrorKind::Collate => "REG_ECOLLATE (unsupported collating element)",
            EreErrorKind::Escape => "REG_EESCAPE (trailing backslash)",
            EreErrorKind::Repetition => "REG_BADRPT (repetition without operand)",
            EreErrorKind::Empty => "REG_EMPTY (empty expression)",
        })
    }
}

/// configd's anchoring: prepend `^` unless the first byte is `^`; append `$` unless the last byte
/// is `$` and the byte before it is not a backslash.
///
/// ```
/// use scnotify::store::pattern::anchor;
/// assert_eq!(anchor(b"a[0-9]+"), b"^a[0-9]+$");
/// assert_eq!(anchor(b"^a$"), b"^a$");
/// assert_eq!(anchor(b"a\\$"), b"^a\\$$");
/// ```
pub fn anchor(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 2);
    if raw.first() != Some(&b'^') {
        out.push(b'^');
    }
    out.extend_from_slice(raw);
    let n = raw.len();
    let ends_with_anchor = n >= 1 && raw[n - 1] == b'$' && (n < 2 || raw[n - 2] != b'\\');
    if !ends_with_anchor {
        out.push(b'$');
    }
    out
}

/// A compiled, anchored watch pattern. Identity (equality) is the raw bytes.
#[derive(Clone)]
pub struct Pattern {
    raw: Vec<u8>,
    regex: regex::bytes::Regex,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", String::from_utf8_lossy(&self.raw))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl Eq for Pattern {}

impl Pattern {
    /// Anchors and compiles `raw` as configd does.
    pub fn compile(raw: &[u8]) -> Result<Pattern, PatternError> {
        if raw.is_empty() {
            return Err(PatternError::Empty);
        }
        if let Some(i) = raw.iter().position(|&b| b == 0) {
            return Err(PatternError::ContainsNul(i));
        }
        let translated = ere_to_regex(&anchor(raw))?;
        let regex = regex::bytes::RegexBuilder::new(&translated)
            .size_limit(COMPILED_SIZE_LIMIT)
            .build()
            .map_err(|e| PatternError::Compile(e.to_string()))?;
        Ok(Pattern {
            raw: raw.to_vec(),
            regex,
        })
    }

    /// The pattern as the client sent it.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Whether a key matches, with the key treated as a C string: bytes from the first NUL on
    /// are ignored, and keys longer than 8192 bytes never match.
    pub fn matches_key(&self, key: &[u8]) -> bool {
        if key.len() > CONFIG_DATA_MAX {
            return false;
        }
        let c_string = key
            .iter()
            .position(|&b| b == 0)
            .map_or(key, |nul| &key[..nul]);
        self.regex.is_match(c_string)
    }
}

/// Translates a POSIX ERE (C locale) into `regex` crate syntax (byte mode). See the module docs.
pub fn ere_to_regex(ere: &[u8]) -> Result<String, PatternError> {
    let mut p = Parser {
        s: ere,
        pos: 0,
        out: String::from("(?s-u)"),
    };
    p.alternation(None)?;
    if p.pos < p.s.len() {
        // Only a `)` without a matching `(` stops the top-level alternation early.
        return Err(p.err(EreErrorKind::Paren));
    }
    Ok(p.out)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    out: String,
}

impl Parser<'_> {
    fn err(&self, kind: EreErrorKind) -> PatternError {
        PatternError::Syntax {
            kind,
            offset: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek2(&self) -> Option<u8> {
        self.s.get(self.pos + 1).copied()
    }

    fn literal(&mut self, b: u8) {
        if b.is_ascii_alphanumeric() {
            self.out.push(b as char);
        } else {
            self.out.push_str(&format!("\\x{b:02X}"));
        }
    }

    /// branch ('|' branch)*, stopping before `stop` (`)` inside a group).
    fn alternation(&mut self, stop: Option<u8>) -> Result<(), PatternError> {
        loop {
            let start = self.out.len();
            while let Some(c) = self.peek() {
                if c == b'|' || Some(c) == stop {
                    break;
                }
                self.expression()?;
            }
            if self.out.len() == start {
                return Err(self.err(EreErrorKind::Empty));
            }
            if self.peek() == Some(b'|') {
                self.pos += 1;
                self.out.push('|');
            } else {
                return Ok(());
            }
        }
    }

    /// One atom and its optional repetition.
    fn expression(&mut self) -> Result<(), PatternError> {
        let Some(c) = self.peek() else { return Ok(()) };
        self.pos += 1;
        let mut was_caret = false;
        match c {
            b'(' => {
                if self.peek().is_none() {
                    return Err(self.err(EreErrorKind::Paren));
                }
                self.out.push_str("(?:");
                if self.peek() != Some(b')') {
                    self.alternation(Some(b')'))?;
                }
                if self.peek() != Some(b')') {
                    return Err(self.err(EreErrorKind::Paren));
                }
                self.pos += 1;
                self.out.push(')');
            }
            b')' => {
                return Err(PatternError::Syntax {
                    kind: EreErrorKind::Paren,
                    offset: self.pos - 1,
                })
            }
            b'^' => {
                self.out.push_str("(?:^)");
                was_caret = true;
            }
            b'$' => self.out.push_str("(?:$)"),
            b'|' => return Err(self.err(EreErrorKind::Empty)),
            b'*' | b'+' | b'?' => {
                return Err(PatternError::Syntax {
                    kind: EreErrorKind::Repetition,
                    offset: self.pos - 1,
                })
            }
            b'.' => self.out.push('.'),
            b'[' => self.bracket()?,
            b'\\' => {
                let Some(e) = self.peek() else {
                    return Err(self.err(EreErrorKind::Escape));
                };
                self.pos += 1;
                self.literal(e);
            }
            b'{' => {
                if self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    return Err(self.err(EreErrorKind::Repetition));
                }
                self.literal(b'{');
            }
            other => self.literal(other),
        }
        self.repetition(was_caret)
    }

    fn is_repetition_start(&self) -> bool {
        match self.peek() {
            Some(b'*' | b'+' | b'?') => true,
            Some(b'{') => self.peek2().is_some_and(|d| d.is_ascii_digit()),
            _ => false,
        }
    }

    fn repetition(&mut self, was_caret: bool) -> Result<(), PatternError> {
        if !self.is_repetition_start() {
            return Ok(());
        }
        if was_caret {
            return Err(self.err(EreErrorKind::Repetition));
        }
        let c = self.s[self.pos];
        self.pos += 1;
        match c {
            b'{' => {
                let min = self.number()?;
                let max = if self.peek() == Some(b',') {
                    self.pos += 1;
                    if self.peek().is_some_and(|d| d.is_ascii_digit()) {
                        Some(self.number()?)
                    } else {
                        None
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') {
                    return Err(self.err(EreErrorKind::Brace));
                }
                self.pos += 1;
                if max.is_some_and(|m| m < min) {
                    return Err(self.err(EreErrorKind::Brace));
                }
                match max {
                    Some(m) if m == min => self.out.push_str(&format!("{{{min}}}")),
                    Some(m) => self.out.push_str(&format!("{{{min},{m}}}")),
                    None => self.out.push_str(&format!("{{{min},}}")),
                }
            }
            other => self.out.push(other as char),
        }
        if self.is_repetition_start() {
            return Err(self.err(EreErrorKind::Repetition));
        }
        Ok(())
    }

    fn number(&mut self) -> Result<u32, PatternError> {
        let mut n: u32 = 0;
        let mut digits = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = n.saturating_mul(10).saturating_add(u32::from(d - b'0'));
            self.pos += 1;
            digits += 1;
        }
        if digits == 0 || n > RE_DUP_MAX {
            return Err(self.err(EreErrorKind::Brace));
        }
        Ok(n)
    }

    /// After `[`: builds the byte set and emits it.
    fn bracket(&mut self) -> Result<(), PatternError> {
        let mut set = [false; 256];
        let invert = self.peek() == Some(b'^');
        if invert {
            self.pos += 1;
        }
        if self.peek() == Some(b']') {
            set[b']' as usize] = true;
            self.pos += 1;
        } else if self.peek() == Some(b'-') {
            set[b'-' as usize] = true;
            self.pos += 1;
        }
        while let Some(c) = self.peek() {
            if c == b']' || (c == b'-' && self.peek2() == Some(b']')) {
                break;
            }
            self.bracket_term(&mut set)?;
        }
        if self.peek() == Some(b'-') {
            set[b'-' as usize] = true;
            self.pos += 1;
        }
        if self.peek() != Some(b']') {
            return Err(self.err(EreErrorKind::Bracket));
        }
        self.pos += 1;
        if invert {
            for b in set.iter_mut() {
                *b = !*b;
            }
        }
        self.emit_set(&set);
        Ok(())
    }

    fn bracket_term(&mut self, set: &mut [bool; 256]) -> Result<(), PatternError> {
        match (self.peek(), self.peek2()) {
            (Some(b'-'), _) => Err(self.err(EreErrorKind::Range)),
            (Some(b'['), Some(b':')) => {
                self.pos += 2;
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    self.pos += 1;
                }
                let name = &self.s[start..self.pos];
                let class =
                    class_predicate(name).ok_or_else(|| self.err(EreErrorKind::CharClass))?;
                if self.peek().is_none() {
                    return Err(self.err(EreErrorKind::Bracket));
                }
                if self.peek() != Some(b':') || self.peek2() != Some(b']') {
                    return Err(self.err(EreErrorKind::CharClass));
                }
                self.pos += 2;
                for b in 0..=255u8 {
                    if class(b) {
                        set[b as usize] = true;
                    }
                }
                Ok(())
            }
            (Some(b'['), Some(b'=')) => {
                self.pos += 2;
                let c = self.collating_element(b'=')?;
                set[c as usize] = true;
                Ok(())
            }
            _ => {
                let start = self.symbol()?;
                let finish = if self.peek() == Some(b'-') && self.peek2().is_some_and(|c| c != b']')
                {
                    self.pos += 1;
                    if self.peek() == Some(b'-') {
                        self.pos += 1;
                        b'-'
                    } else {
                        self.symbol()?
                    }
                } else {
                    start
                };
                if start > finish {
                    return Err(self.err(EreErrorKind::Range));
                }
                for b in start..=finish {
                    set[b as usize] = true;
                }
                Ok(())
            }
        }
    }

    /// A single character or `[.c.]`.
    fn symbol(&mut self) -> Result<u8, PatternError> {
        let Some(c) = self.peek() else {
            return Err(self.err(EreErrorKind::Bracket));
        };
        if c == b'[' && self.peek2() == Some(b'.') {
            self.pos += 2;
            return self.collating_element(b'.');
        }
        self.pos += 1;
        Ok(c)
    }

    /// After `[.` or `[=`: one character, then `.]` / `=]`.
    fn collating_element(&mut self, delim: u8) -> Result<u8, PatternError> {
        let start = self.pos;
        while self.pos < self.s.len() && !(self.s[self.pos] == delim && self.peek2() == Some(b']'))
        {
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err(self.err(EreErrorKind::Bracket));
        }
        let name = &self.s[start..self.pos];
        self.pos += 2;
        match name {
            [c] => Ok(*c),
            _ => Err(PatternError::Syntax {
                kind: EreErrorKind::Collate,
                offset: start,
            }),
        }
    }

    fn emit_set(&mut self, set: &[bool; 256]) {
        if !set.iter().any(|&b| b) {
            // Nothing can match (e.g. `[^\x00-\xff]` spelled out): an impossible assertion.
            self.out.push_str(r"(?:\b\B)");
            return;
        }
        self.out.push('[');
        let mut b = 0usize;
        while b < 256 {
            if set[b] {
                let start = b;
                while b + 1 < 256 && set[b + 1] {
                    b += 1;
                }
                if start == b {
                    self.out.push_str(&format!("\\x{start:02X}"));
                } else {
                    self.out.push_str(&format!("\\x{start:02X}-\\x{b:02X}"));
                }
            }
            b += 1;
        }
        self.out.push(']');
    }
}

/// C-locale `ctype` predicates by class name.
fn class_predicate(name: &[u8]) -> Option<fn(u8) -> bool> {
    Some(match name {
        b"alnum" => |b: u8| b.is_ascii_alphanumeric(),
        b"alpha" => |b: u8| b.is_ascii_alphabetic(),
        b"blank" => |b: u8| b == b' ' || b == b'\t',
        b"cntrl" => |b: u8| b.is_ascii_control(),
        b"digit" => |b: u8| b.is_ascii_digit(),
        b"graph" => |b: u8| b.is_ascii_graphic(),
        b"lower" => |b: u8| b.is_ascii_lowercase(),
        b"print" => |b: u8| b.is_ascii_graphic() || b == b' ',
        b"punct" => |b: u8| b.is_ascii_punctuation(),
        b"space" => |b: u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b"upper" => |b: u8| b.is_ascii_uppercase(),
        b"xdigit" => |b: u8| b.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, key: &str) -> bool {
        Pattern::compile(p.as_bytes())
            .unwrap()
            .matches_key(key.as_bytes())
    }

    fn syntax(p: &str) -> EreErrorKind {
        match Pattern::compile(p.as_bytes()) {
            Err(PatternError::Syntax { kind, .. }) => kind,
            other => panic!("{p:?}: expected a syntax error, got {other:?}"),
        }
    }

    /// Syntax check of an already anchored expression.
    fn raw_syntax(p: &str) -> EreErrorKind {
        match ere_to_regex(p.as_bytes()) {
            Err(PatternError::Syntax { kind, .. }) => kind,
            other => panic!("{p:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn anchoring_rules() {
        assert_eq!(anchor(b"abc"), b"^abc$");
        assert_eq!(anchor(b"^abc"), b"^abc$");
        assert_eq!(anchor(b"abc$"), b"^abc$");
        assert_eq!(anchor(b"abc\\$"), b"^abc\\$$");
        assert_eq!(anchor(b"$"), b"^$");
        assert_eq!(anchor(b"^"), b"^$");
        // Anchors are implicit: a pattern cannot match a substring.
        assert!(m("patterntest:[0-9]+", "patterntest:42"));
        assert!(!m("patterntest:[0-9]+", "patterntest:nodigits"));
        assert!(!m("patterntest:[0-9]+", "xpatterntest:42"));
        assert!(!m("patterntest:[0-9]+", "patterntest:42x"));
        assert!(m("selftest:pat[0-9]+", "selftest:pat42"));
        // An escaped dollar stays literal and the pattern still gets its anchor.
        assert!(m("a\\$", "a$"));
        assert!(!m("a\\$", "a$b"));
    }

    #[test]
    fn alternation_is_anchored_only_on_the_outside_like_configd() {
        // `^a|b$`: "a..." or "...b".
        assert!(m("a|b", "axyz"));
        assert!(m("a|b", "xyzb"));
        assert!(!m("a|b", "xbx"));
        assert!(m("(a|b)", "a"));
        assert!(!m("(a|b)", "ab"));
    }

    #[test]
    fn backslash_rules_follow_spencer() {
        assert!(m("a\\.b", "a.b"));
        assert!(!m("a\\.b", "axb"));
        // `\d` is a literal `d`, not a digit class.
        assert!(m("a\\d", "ad"));
        assert!(!m("a\\d", "a1"));
        // `\1` is a literal `1`.
        assert!(m("(a)\\1", "a1"));
        // Inside brackets a backslash is literal.
        assert!(m("[\\d]", "\\"));
        assert!(m("[\\d]", "d"));
        assert!(!m("[\\d]", "5"));
        assert_eq!(raw_syntax("^abc\\"), EreErrorKind::Escape);
        // configd quirk: the appended `$` gets escaped by a trailing backslash, so `abc\`
        // compiles to `^abc\$` and matches the literal "abc$".
        assert!(m("abc\\", "abc$"));
        assert!(!m("abc\\", "abc"));
    }

    #[test]
    fn brackets() {
        assert!(m("[]a]", "]"));
        assert!(m("[^]a]", "b"));
        assert!(!m("[^]a]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("[-a]", "-"));
        assert!(m("[[:digit:]]+", "123"));
        assert!(!m("[[:digit:]]+", "12a"));
        assert!(m("[[:space:]]", "\x0b"));
        assert!(m("[[.a.]-c]", "b"));
        assert!(m("[[=x=]]", "x"));
        assert!(m("[a-c-]", "-"));
        assert!(m("[%--]", "+")); // range ending in '-'
        assert_eq!(syntax("[z-a]"), EreErrorKind::Range);
        assert_eq!(syntax("[a-c-e]"), EreErrorKind::Range);
        assert_eq!(syntax("[[:nope:]]"), EreErrorKind::CharClass);
        assert_eq!(syntax("[[.space.]]"), EreErrorKind::Collate);
        assert_eq!(syntax("[abc"), EreErrorKind::Bracket);
        assert_eq!(raw_syntax("[[:alpha"), EreErrorKind::Bracket);
        assert_eq!(syntax("[[:alpha:"), EreErrorKind::CharClass);
        // A negated class matches newline and high bytes (C locale, no REG_NEWLINE).
        assert!(m("a[^b]c", "a\nc"));
        assert!(Pattern::compile(b"a[^b]c").unwrap().matches_key(b"a\xffc"));
    }

    #[test]
    fn repetitions_and_groups() {
        assert!(m("a{2}", "aa"));
        assert!(!m("a{2}", "aaa"));
        assert!(m("a{2,}", "aaaa"));
        assert!(m("a{1,2}b", "aab"));
        assert!(m("a{", "a{"));
        assert!(m("a{x", "a{x"));
        assert!(m("()a", "a"));
        assert!(m("x.y", "x\ny"));
        assert_eq!(syntax("*a"), EreErrorKind::Repetition);
        assert_eq!(syntax("a**"), EreErrorKind::Repetition);
        assert_eq!(syntax("a*?"), EreErrorKind::Repetition);
        assert_eq!(syntax("(?i)a"), EreErrorKind::Repetition);
        assert_eq!(syntax("^*a"), EreErrorKind::Repetition);
        assert_eq!(syntax("a|*b"), EreErrorKind::Repetition);
        assert_eq!(syntax("{1}a"), EreErrorKind::Repetition);
        assert_eq!(syntax("a{2,1}"), EreErrorKind::Brace);
        assert_eq!(syntax("a{256}"), EreErrorKind::Brace);
        assert_eq!(syntax("a{1"), EreErrorKind::Brace);
        assert_eq!(raw_syntax("a|"), EreErrorKind::Empty);
        assert_eq!(raw_syntax("|a"), EreErrorKind::Empty);
        // configd quirk: anchoring fills the empty outer alternative (`^a|$`), which then
        // matches every key.
        assert!(m("a|", "anything"));
        assert_eq!(syntax("(|a)"), EreErrorKind::Empty);
        assert_eq!(syntax("(a"), EreErrorKind::Paren);
        assert_eq!(syntax("a)"), EreErrorKind::Paren);
        assert_eq!(syntax("("), EreErrorKind::Paren);
    }

    #[test]
    fn keys_are_c_strings_and_bounded() {
        let p = Pattern::compile(b"ab").unwrap();
        assert!(p.matches_key(b"ab\0cd"));
        let p = Pattern::compile(b"a.*").unwrap();
        assert!(p.matches_key(&vec![b'a'; 8192]));
        assert!(!p.matches_key(&vec![b'a'; 8193]));
    }

    #[test]
    fn non_utf8_and_empty_and_nul_patterns() {
        let p = Pattern::compile(b"k\xe9y").unwrap();
        assert!(p.matches_key(b"k\xe9y"));
        assert_eq!(Pattern::compile(b""), Err(PatternError::Empty));
        assert_eq!(Pattern::compile(b"a\0b"), Err(PatternError::ContainsNul(1)));
        // Identity is the raw bytes.
        assert_eq!(
            Pattern::compile(b"a+").unwrap(),
            Pattern::compile(b"a+").unwrap()
        );
        assert_ne!(
            Pattern::compile(b"a+").unwrap(),
            Pattern::compile(b"^a+").unwrap()
        );
    }

    #[test]
    fn huge_patterns_are_refused_not_panicking() {
        let p = "(((a{255}){255}){255})";
        assert!(Pattern::compile(p.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_patterns_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..48),
                                          key in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(p) = Pattern::compile(&raw) {
                let _ = p.matches_key(&key);
            }
        }

        #[test]
        fn escaped_literals_match_themselves(lit in proptest::collection::vec(1u8..=255, 1..24)) {
            // Escaping every byte makes any string a literal pattern.
            let mut raw = Vec::new();
            for &b in &lit { raw.push(b'\\'); raw.push(b); }
            let p = Pattern::compile(&raw).unwrap();
            prop_assert!(p.matches_key(&lit));
            let mut longer = lit.clone();
            longer.push(b'x');
            prop_assert!(!p.matches_key(&longer));
        }
    }
}
