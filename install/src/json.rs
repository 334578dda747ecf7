//! One top-level member of a JSON object, edited in place: the docker CLI's `config.json`,
//! which the user and other tools (`docker login`, credential helpers, VS Code) own.
//!
//! Every byte outside the member is kept, and the edits undo each other exactly: removing a
//! member that [`set`] inserted, or setting back the value it replaced (as its JSON text),
//! gives the original bytes. A file that does not parse as a JSON object is refused, with the
//! parser's line and column: the docker CLI cannot read it either.

use std::ops::Range;

/// A parsed top-level object: where each member's key, value and comma are.
#[derive(Debug)]
pub struct Object {
    open: usize,
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    key: String,
    /// Just after the `{` or the `,` before this member (its leading whitespace starts here).
    lead: usize,
    key_start: usize,
    value: Range<usize>,
    /// The `,` after the value, if another member follows.
    comma: Option<usize>,
}

impl Object {
    /// Parses `text`, which must be one JSON object (UTF-8, no BOM, as the docker CLI reads it).
    pub fn parse(text: &str) -> Result<Object, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("does not parse as JSON: {e}"))?;
        if !value.is_object() {
            return Err(format!(
                "holds a JSON {}, not an object",
                match value {
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    serde_json::Value::Bool(_) => "boolean",
                    _ => "null",
                }
            ));
        }
        // Valid JSON from here on: the scanner only needs to find the boundaries.
        let b = text.as_bytes();
        let mut i = skip_ws(b, 0);
        let open = i;
        i += 1;
        let mut members: Vec<Member> = Vec::new();
        loop {
            let lead = i;
            i = skip_ws(b, i);
            if b[i] == b'}' {
                break;
            }
            let key_start = i;
            let key_end = skip_string(b, i);
            let key: String =
                serde_json::from_str(&text[key_start..key_end]).expect("a valid JSON key");
            i = skip_ws(b, key_end) + 1; // the ':'
            let vs = skip_ws(b, i);
            let ve = skip_value(b, vs);
            i = skip_ws(b, ve);
            let comma = (b[i] == b',').then_some(i);
            members.push(Member {
                key,
                lead,
                key_start,
                value: vs..ve,
                comma,
            });
            if comma.is_none() {
                break;
            }
            i += 1;
        }
        Ok(Object { open, members })
    }

    /// How many times `key` is a top-level member.
    pub fn count(&self, key: &str) -> usize {
        self.members.iter().filter(|m| m.key == key).count()
    }

    /// The JSON text of `key`'s value (the last one, as the docker CLI's Go decoder takes it).
    pub fn get<'t>(&self, text: &'t str, key: &str) -> Option<&'t str> {
        self.find(key).map(|m| &text[m.value.clone()])
    }

    fn find(&self, key: &str) -> Option<&Member> {
        self.members.iter().rev().find(|m| m.key == key)
    }
}

/// `text` with `key` set to `value` (JSON text): the value replaced in place, or, when the key
/// is absent, a member inserted first, after the whitespace the first member has before it
/// (the file's own indentation).
pub fn set(text: &str, key: &str, value: &str) -> Result<String, String> {
    let obj = Object::parse(text)?;
    let key_json = serde_json::to_string(key).expect("a string serializes");
    let mut out = text.to_owned();
    match (obj.find(key), obj.members.first()) {
        (Some(m), _) => out.replace_range(m.value.clone(), value),
        (None, Some(first)) => {
            let ws = &text[first.lead..first.key_start];
            out.insert_str(first.lead, &format!("{ws}{key_json}: {value},"));
        }
        (None, None) => out.insert_str(obj.open + 1, &format!("{key_json}: {value}")),
    }
    Ok(out)
}

/// `text` without the member `key` (the last one), with the separator and the whitespace that
/// lead it: the inverse of [`set`] inserting it. Unchanged when the key is absent.
pub fn remove(text: &str, key: &str) -> Result<String, String> {
    let obj = Object::parse(text)?;
    let Some(at) = obj.members.iter().rposition(|m| m.key == key) else {
        return Ok(text.to_owned());
    };
    let m = &obj.members[at];
    let range = match (m.comma, at.checked_sub(1)) {
        (Some(c), _) => m.lead..c + 1,
        (None, Some(prev)) => obj.members[prev].comma.expect("a member follows it")..m.value.end,
        (None, None) => m.lead..m.value.end,
    };
    let mut out = text.to_owned();
    out.replace_range(range, "");
    Ok(out)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end (exclusive) of the string that starts at `i` (its opening quote).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i + 1
}

/// The end (exclusive) of the value that starts at `i`.
fn skip_value(b: &[u8], mut i: usize) -> usize {
    match b[i] {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            loop {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            {
                i += 1;
            }
            i
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "currentContext";
    const OURS: &str = r#""dockvm-vm""#;

    #[test]
    fn a_member_is_inserted_replaced_and_removed_keeping_every_other_byte() {
        // (original, after set): the docker CLI's own tab-indented file, compact JSON, an
        // empty object, a key in escapes, non-ASCII, and one already set.
        let table: &[(&str, &str)] = &[
            (
                "{\n\t\"auths\": {\n\t\t\"r.io\": {}\n\t},\n\t\"credsStore\": \"wincred.exe\"\n}",
                "{\n\t\"currentContext\": \"dockvm-vm\",\n\t\"auths\": {\n\t\t\"r.io\": {}\n\t},\n\t\"credsStore\": \"wincred.exe\"\n}",
            ),
            (r#"{"a":1}"#, r#"{"currentContext": "dockvm-vm","a":1}"#),
            ("{}", r#"{"currentContext": "dockvm-vm"}"#),
            (" { \n } \n", " {\"currentContext\": \"dockvm-vm\" \n } \n"),
            (
                "{\"proxies\":{\"default\":{\"noProxy\":\"本地,*.test\"}},\"x\":[1,{\"}\":\"]\"}]}",
                "{\"currentContext\": \"dockvm-vm\",\"proxies\":{\"default\":{\"noProxy\":\"本地,*.test\"}},\"x\":[1,{\"}\":\"]\"}]}",
            ),
            (
                "{\n  \"current\\u0043ontext\" : \"other\" ,\n  \"b\": true\n}\n",
                "{\n  \"current\\u0043ontext\" : \"dockvm-vm\" ,\n  \"b\": true\n}\n",
            ),
            (
                "{\"a\": null, \"currentContext\": \"x\"}",
                "{\"a\": null, \"currentContext\": \"dockvm-vm\"}",
            ),
        ];
        for (orig, want) in table {
            let got = set(orig, KEY, OURS).unwrap();
            assert_eq!(&got, want, "set in {orig:?}");
            let v: serde_json::Value = serde_json::from_str(&got).unwrap();
            assert_eq!(v[KEY], "dockvm-vm");
            let obj = Object::parse(orig).unwrap();
            let back = match obj.get(orig, KEY) {
                Some(before) => set(&got, KEY, before).unwrap(),
                None => remove(&got, KEY).unwrap(),
            };
            assert_eq!(&back, orig, "undone");
        }
        // The last member, and the only one, go with their separator.
        assert_eq!(
            remove("{\"a\": 1, \"currentContext\": \"x\"\n}", KEY).unwrap(),
            "{\"a\": 1\n}"
        );
        assert_eq!(remove("{ \"currentContext\": 1 }", KEY).unwrap(), "{ }");
        assert_eq!(remove("{\"a\":1}", KEY).unwrap(), "{\"a\":1}");
    }

    use proptest::prelude::*;

    /// Whitespace JSON allows between tokens.
    fn ws() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![" ", "\t", "\n", "\r\n", ""]),
            0..3,
        )
        .prop_map(|v| v.concat())
    }

    /// A JSON value as text (the kinds config.json holds: strings with escapes and non-ASCII,
    /// numbers, literals, nested objects and arrays), with whitespace anywhere JSON allows.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "[a-z0-9 本地\\\\\"{}\\[\\],:]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("-1.5e3".to_owned()),
            Just("true".to_owned()),
            Just("null".to_owned()),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec((ws(), inner.clone(), ws()), 0..3).prop_map(|v| format!(
                    "[{}]",
                    v.into_iter()
                        .map(|(a, x, b)| format!("{a}{x}{b}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )),
                prop::collection::btree_map("[a-z]{1,3}", (ws(), inner, ws()), 0..3).prop_map(
                    |m| format!(
                        "{{{}}}",
                        m.into_iter()
                            .map(|(k, (a, x, b))| format!("{a}{k:?}{b}:{a}{x}{b}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                ),
            ]
        })
    }

    /// A top-level object of distinct keys, `currentContext` among them or not.
    fn object() -> impl Strategy<Value = String> {
        (
            ws(),
            prop::collection::btree_map(
                prop_oneof![Just(KEY.to_owned()), "[a-zA-Z]{1,6}"],
                (ws(), value(), ws()),
                0..5,
            ),
            ws(),
        )
            .prop_map(|(lead, m, tail)| {
                let body = m
                    .into_iter()
                    .map(|(k, (a, x, b))| format!("{a}{k:?}{b}:{a}{x}{b}"))
                    .collect::<Vec<_>>()
                    .join(",");
                format!("{lead}{{{body}{tail}}}{lead}")
            })
    }

    proptest! {
        #[test]
        fn set_then_undo_gives_back_the_bytes(orig in object(), ours in "[a-z-]{1,8}") {
            let ours = serde_json::to_string(&ours).unwrap();
            let before: serde_json::Value = serde_json::from_str(&orig).unwrap();
            let obj = Object::parse(&orig).unwrap();
            let got = set(&orig, KEY, &ours).unwrap();
            let mut want = before.clone();
            want[KEY] = serde_json::from_str(&ours).unwrap();
            prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&got).unwrap(), want);
            let back = match obj.get(&orig, KEY) {
                Some(was) => set(&got, KEY, was).unwrap(),
                None => remove(&got, KEY).unwrap(),
            };
            prop_assert_eq!(back, orig);
        }
    }

    #[test]
    fn what_is_not_one_json_object_is_refused_with_where() {
        for (text, says) in [
            ("", "EOF while parsing a value at line 1 column 0"),
            ("{\"a\": 1,}", "trailing comma at line 1 column 9"),
            ("{\n\t\"a\": 1\n", "at line 3 column 0"),
            ("\u{feff}{}", "does not parse as JSON"),
            ("[]", "a JSON array, not an object"),
            ("null", "a JSON null, not an object"),
        ] {
            let e = set(text, KEY, OURS).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }
}
