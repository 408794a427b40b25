//! Text files in any encoding, read as UTF-8.
//!
//! Every reader of a CSV/TSV file (sniffing, the header, the streamed rows) opens it through
//! [`open_text`], which decides the encoding once per open:
//! - a **byte-order mark** wins (UTF-8, UTF-16LE, UTF-16BE; the mark itself is never read as
//!   data), even over a declared encoding;
//! - else the **declared** encoding (`"csv": {"encoding": "latin-1"}`, `--encoding`): any
//!   WHATWG label (`latin-1`, `iso-8859-1`, `windows-1252`, `utf-16le`, `shift_jis`, ...),
//!   transcoded to UTF-8 as the file streams ([`encoding_rs_io`]);
//! - else **UTF-8**, checked as it streams: the first byte that is not UTF-8 is a
//!   [`DataError::Encoding`] naming the file, its byte offset and line, how the byte reads in
//!   latin-1, and how to declare the encoding. pets does not guess: every byte string is
//!   valid windows-1252, so a wrong guess could not be detected and would change labels
//!   silently.
//!
//! UTF-8 is passed through untouched (no copy); other encodings cost one transcoding pass.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, Mutex};

use encoding_rs::{Encoding, UTF_8};
use encoding_rs_io::DecodeReaderBytesBuilder;

use crate::data::error::{DataError, Result};

/// The encoding a label names (`"latin-1"`, `"windows-1252"`, `"utf-8"`, `"utf-16"`, ...:
/// the WHATWG Encoding Standard's labels, case-insensitive; `latin-1` and `iso-8859-1` are
/// windows-1252, its superset). An unknown label is an error that lists common ones.
pub fn encoding_for_label(label: &str) -> Result<&'static Encoding> {
    let l = label.trim();
    // WHATWG knows "latin1" and "iso-8859-1" but not the spelling people write most.
    let l = match l.to_ascii_lowercase().as_str() {
        "latin-1" | "latin_1" => "latin1",
        "utf-16" | "utf16" => "utf-16le",
        _ => l,
    };
    Encoding::for_label(l.as_bytes()).ok_or_else(|| DataError::InvalidArgument {
        name: "encoding",
        reason: format!(
            "{label:?} is not an encoding pets knows; use utf-8, latin-1 (iso-8859-1), \
             windows-1252, utf-16le, utf-16be, or another WHATWG label"
        ),
    })
}

/// Where a file stopped being UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8 {
    /// Byte offset of the first byte of the bad sequence (0-based, from the file's start).
    pub offset: u64,
    /// 1-based line.
    pub line: u64,
    /// The first bad byte.
    pub byte: u8,
}

impl NotUtf8 {
    pub(crate) fn error(self, path: &Path) -> DataError {
        DataError::Encoding {
            path: path.to_path_buf(),
            offset: self.offset,
            line: self.line,
            byte: self.byte,
        }
    }
}

/// The first UTF-8 failure a [`Utf8Checked`] reader met, shared with whoever maps the
/// downstream reader's (untyped) error back to [`DataError::Encoding`].
pub(crate) type Failure = Arc<Mutex<Option<NotUtf8>>>;

/// An opened text file: a UTF-8 byte stream, the slot a UTF-8 failure is recorded in, and
/// a note when a byte-order mark decided the encoding.
pub(crate) struct TextFile {
    pub reader: Box<dyn Read + Send>,
    pub failure: Failure,
    pub note: Option<String>,
}

impl TextFile {
    /// `e` in the caller's terms: the recorded UTF-8 failure when there is one, else
    /// `otherwise(e)`.
    pub(crate) fn map_err<E>(
        failure: &Failure,
        path: &Path,
        e: E,
        otherwise: impl FnOnce(E) -> DataError,
    ) -> DataError {
        match *failure.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bad) => bad.error(path),
            None => otherwise(e),
        }
    }
}

/// Open `path` as UTF-8 text: its byte-order mark's encoding, else `declared`, else UTF-8
/// (checked). See the module documentation.
pub(crate) fn open_text(path: &Path, declared: Option<&'static Encoding>) -> Result<TextFile> {
    let io = |e| DataError::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let mut head = [0u8; 3];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]).map_err(io)? {
            0 => break,
            k => n += k,
        }
    }
    let bom = Encoding::for_bom(&head[..n]);
    let failure: Failure = Arc::new(Mutex::new(None));
    let note = match (bom, declared) {
        (Some((e, _)), Some(d)) if e != d && e != UTF_8 => Some(format!(
            "{}: the file starts with a {} byte-order mark; it is read as {} (the declared \
             {} is ignored)",
            path.display(),
            e.name(),
            e.name(),
            d.name()
        )),
        (Some((e, _)), None) if e != UTF_8 => Some(format!(
            "{}: the file is {} (from its byte-order mark)",
            path.display(),
            e.name()
        )),
        _ => None,
    };
    let encoding = bom.map(|(e, _)| e).or(declared).unwrap_or(UTF_8);
    let reader: Box<dyn Read + Send> = if encoding == UTF_8 {
        let skip = bom.map_or(0, |(_, len)| len as u64);
        file.seek(SeekFrom::Start(skip)).map_err(io)?;
        Box::new(Utf8Checked::new(file, skip, failure.clone()))
    } else {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        Box::new(
            DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(file),
        )
    };
    Ok(TextFile {
        reader,
        failure,
        note,
    })
}

/// A reader that passes bytes through and fails at the first byte that is not UTF-8,
/// recording where.
struct Utf8Checked<R> {
    inner: R,
    /// Bytes handed out so far, from the file's start (the BOM included).
    offset: u64,
    /// Newlines handed out so far.
    newlines: u64,
    /// The start of a character cut by the end of the last read (at most 3 bytes).
    carry: Vec<u8>,
    /// A failure found past bytes already handed out, returned by the next read.
    pending: Option<NotUtf8>,
    failure: Failure,
}

impl<R: Read> Utf8Checked<R> {
    fn new(inner: R, offset: u64, failure: Failure) -> Self {
        Utf8Checked {
            inner,
            offset,
            newlines: 0,
            carry: Vec::with_capacity(4),
            pending: None,
            failure,
        }
    }

    /// Where the failure at index `at` of `carry ++ bytes` is (`shift` = the carry's
    /// length; the carry was handed out by the previous read and holds no newline).
    fn locate(&self, at: usize, shift: usize, bytes: &[u8]) -> NotUtf8 {
        if at < shift {
            NotUtf8 {
                offset: self.offset - (shift - at) as u64,
                line: self.newlines + 1,
                byte: self.carry[at],
            }
        } else {
            let before = at - shift;
            NotUtf8 {
                offset: self.offset + before as u64,
                line: self.newlines + newlines(&bytes[..before]) + 1,
                byte: bytes[before],
            }
        }
    }

    fn record(&self, bad: NotUtf8) -> io::Error {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(bad);
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "byte 0x{:02X} at offset {} (line {}) is not UTF-8",
                bad.byte, bad.offset, bad.line
            ),
        )
    }

    fn hand_out(&mut self, bytes: &[u8]) {
        self.offset += bytes.len() as u64;
        self.newlines += newlines(bytes);
    }
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

impl<R: Read> Read for Utf8Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(bad) = self.pending {
            return Err(self.record(bad));
        }
        let n = self.inner.read(buf)?;
        let bytes = &buf[..n];
        if n == 0 {
            if self.carry.is_empty() {
                return Ok(0);
            }
            // The file ends inside a character.
            let bad = self.locate(0, self.carry.len(), bytes);
            self.pending = Some(bad);
            return Err(self.record(bad));
        }
        // Validate the carried start of a character together with this read's bytes.
        let shift = self.carry.len();
        let checked: std::borrow::Cow<'_, [u8]> = if shift == 0 {
            bytes.into()
        } else {
            [self.carry.as_slice(), bytes].concat().into()
        };
        match std::str::from_utf8(&checked) {
            Ok(_) => self.carry.clear(),
            Err(e) if e.error_len().is_none() => {
                self.carry = checked[e.valid_up_to()..].to_vec();
            }
            Err(e) => {
                let at = e.valid_up_to();
                let bad = self.locate(at, shift, bytes);
                self.pending = Some(bad);
                if at > shift {
                    // Hand out the valid bytes before the bad one; fail on the next read.
                    let before = at - shift;
                    self.hand_out(&buf[..before]);
                    self.carry.clear();
                    return Ok(before);
                }
                return Err(self.record(bad));
            }
        }
        self.hand_out(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encoding_rs::{UTF_16BE, UTF_16LE};

    fn read_all(
        bytes: &[u8],
        declared: Option<&str>,
        chunk: usize,
    ) -> (Result<String>, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, bytes).unwrap();
        let declared = declared.map(|l| encoding_for_label(l).unwrap());
        let mut t = open_text(&p, declared).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        let r = loop {
            match t.reader.read(&mut buf) {
                Ok(0) => break Ok(String::from_utf8(out).unwrap()),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    break Err(TextFile::map_err(&t.failure, &p, e, |e| {
                        DataError::io(&p, e)
                    }));
                }
            }
        };
        (r, t.note)
    }

    #[test]
    fn labels_people_write_are_known() {
        for l in [
            "latin-1",
            "Latin1",
            "ISO-8859-1",
            "windows-1252",
            "cp1252",
            "utf-8",
            "UTF8",
        ] {
            encoding_for_label(l).unwrap();
        }
        assert_eq!(encoding_for_label("utf-16").unwrap(), UTF_16LE);
        assert_eq!(encoding_for_label("utf-16be").unwrap(), UTF_16BE);
        let e = encoding_for_label("klingon").unwrap_err().to_string();
        assert!(e.contains("klingon") && e.contains("latin-1"), "{e}");
    }

    #[test]
    fn boms_are_honoured_and_stripped() {
        let (r, note) = read_all(b"\xEF\xBB\xBFa,b\n1,2\n", None, 2);
        assert_eq!(r.unwrap(), "a,b\n1,2\n");
        assert!(note.is_none());
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("név,é\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let (r, note) = read_all(&utf16, None, 3);
        assert_eq!(r.unwrap(), "név,é\n");
        assert!(note.unwrap().contains("UTF-16LE"));
        // A BOM wins over a declared encoding, and says so.
        let (r, note) = read_all(&utf16, Some("latin-1"), 5);
        assert_eq!(r.unwrap(), "név,é\n");
        assert!(note.unwrap().contains("ignored"));
    }

    #[test]
    fn latin1_is_transcoded() {
        let (r, _) = read_all(b"name\nJos\xE9\nZo\xEB\n", Some("latin-1"), 4);
        assert_eq!(r.unwrap(), "name\nJosé\nZoë\n");
    }

    #[test]
    fn the_first_non_utf8_byte_is_named_with_offset_and_line() {
        for chunk in [1, 2, 3, 7, 64] {
            let (r, _) = read_all(b"name\nJos\xC3\xA9\nZo\xEB\n", None, chunk);
            match r.unwrap_err() {
                DataError::Encoding {
                    offset, line, byte, ..
                } => assert_eq!((offset, line, byte), (13, 3, 0xEB), "chunk {chunk}"),
                e => panic!("{e}"),
            }
        }
        // Cut inside a character at the end of the file.
        let (r, _) = read_all(b"a\n\xC3", None, 1);
        assert!(matches!(
            r.unwrap_err(),
            DataError::Encoding {
                offset: 2,
                line: 2,
                ..
            }
        ));
        // A bad continuation after a carried lead byte.
        let (r, _) = read_all(b"ab\xC3(", None, 3);
        assert!(matches!(
            r.unwrap_err(),
            DataError::Encoding {
                offset: 2,
                line: 1,
                byte: 0xC3,
                ..
            }
        ));
    }
}
