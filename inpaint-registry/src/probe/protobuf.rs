//! A minimal, bounded, panic-free protobuf reader over a seekable stream, for the few ONNX
//! fields the probe needs. Length-delimited fields it does not need (weights, nodes) are
//! skipped by seeking, so a 200 MB model costs a few kilobytes of reading.

use std::io::{self, BufRead, BufReader, Read, Seek};

/// Protobuf wire types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

/// Counts the bytes read from the file (not the bytes skipped).
pub(crate) struct Counting<R> {
    inner: R,
    pub(crate) bytes_read: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes_read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// A protobuf decoding failure: what and where.
#[derive(Debug)]
pub(crate) enum PbError {
    /// The bytes are not a valid encoding (or not of the expected message).
    Malformed(String),
    /// A field runs past its parent or the end of the file.
    Truncated(String),
    /// A bound was exceeded (a hostile or absurd file).
    Limit(String),
    /// The file could not be read.
    Io(io::Error),
}

pub(crate) type PbResult<T> = Result<T, PbError>;

impl From<io::Error> for PbError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            PbError::Truncated(format!("unexpected end of file ({err})"))
        } else {
            PbError::Io(err)
        }
    }
}

/// A reader positioned in a protobuf stream of known total length.
pub(crate) struct PbReader<R: Read + Seek> {
    inner: BufReader<Counting<R>>,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> PbReader<R> {
    /// Reads `inner` (positioned at 0) of `len` bytes.
    pub(crate) fn new(inner: R, len: u64) -> Self {
        PbReader {
            inner: BufReader::with_capacity(
                16 * 1024,
                Counting {
                    inner,
                    bytes_read: 0,
                },
            ),
            pos: 0,
            len,
        }
    }

    /// The current offset.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The stream's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Bytes read from the file so far (buffering included; skipped bytes excluded).
    pub(crate) fn bytes_read(&self) -> u64 {
        self.inner.get_ref().bytes_read
    }

    fn byte(&mut self, end: u64) -> PbResult<u8> {
        if self.pos >= end {
            return Err(PbError::Truncated(format!("a varint runs past byte {end}")));
        }
        let buf = self.inner.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Err(PbError::Truncated(format!(
                "the file ends at byte {} inside a varint",
                self.pos
            )));
        };
        self.inner.consume(1);
        self.pos += 1;
        Ok(b)
    }

    /// A varint that must end before `end`.
    pub(crate) fn varint(&mut self, end: u64) -> PbResult<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.byte(end)?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(PbError::Malformed(format!(
                    "varint at byte {start} overflows 64 bits"
                )));
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(PbError::Malformed(format!(
            "varint at byte {start} is longer than 10 bytes"
        )))
    }

    /// The next field's number and wire type.
    pub(crate) fn tag(&mut self, end: u64) -> PbResult<(u64, Wire)> {
        let at = self.pos;
        let key = self.varint(end)?;
        let field = key >> 3;
        let wire = match key & 7 {
            0 => Wire::Varint,
            1 => Wire::Fixed64,
            2 => Wire::Len,
            5 => Wire::Fixed32,
            other => {
                return Err(PbError::Malformed(format!(
                    "wire type {other} at byte {at} (groups and unknown types are not ONNX)"
                )));
            }
        };
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(PbError::Malformed(format!(
                "field number {field} at byte {at}"
            )));
        }
        Ok((field, wire))
    }

    /// Reads a length prefix and returns the end offset of the field's payload, which must lie
    /// within `end`.
    pub(crate) fn len_end(&mut self, end: u64, what: &str) -> PbResult<u64> {
        let at = self.pos;
        let len = self.varint(end)?;
        let field_end = self.pos.checked_add(len).filter(|&e| e <= end);
        field_end.ok_or_else(|| {
            let remaining = end.saturating_sub(self.pos);
            if end == self.len {
                PbError::Truncated(format!(
                    "{what} at byte {at} declares {len} bytes but the file has only \
                     {remaining} left"
                ))
            } else {
                PbError::Malformed(format!(
                    "{what} at byte {at} declares {len} bytes but its parent has only \
                     {remaining} left"
                ))
            }
        })
    }

    /// Moves to `target` (at or after the current offset, within the stream).
    pub(crate) fn seek_to(&mut self, target: u64) -> PbResult<()> {
        if target < self.pos || target > self.len {
            return Err(PbError::Malformed(format!(
                "seek to byte {target} from {} outside the stream",
                self.pos
            )));
        }
        let delta = i64::try_from(target - self.pos)
            .map_err(|_| PbError::Limit(format!("skip of {} bytes", target - self.pos)))?;
        self.inner.seek_relative(delta)?;
        self.pos = target;
        Ok(())
    }

    /// Skips a field of wire type `wire` (its tag already read).
    pub(crate) fn skip(&mut self, wire: Wire, end: u64) -> PbResult<()> {
        let target = match wire {
            Wire::Varint => {
                self.varint(end)?;
                return Ok(());
            }
            Wire::Fixed64 => self.pos + 8,
            Wire::Fixed32 => self.pos + 4,
            Wire::Len => self.len_end(end, "a field")?,
        };
        if target > end {
            return Err(PbError::Truncated(format!(
                "a fixed-width field at byte {} runs past byte {end}",
                self.pos
            )));
        }
        self.seek_to(target)
    }

    /// Reads a length-delimited field as bytes, at most `max` of them.
    pub(crate) fn bytes(&mut self, end: u64, max: u64, what: &str) -> PbResult<Vec<u8>> {
        let field_end = self.len_end(end, what)?;
        let len = field_end - self.pos;
        if len > max {
            return Err(PbError::Limit(format!(
                "{what} at byte {} is {len} bytes long (limit {max})",
                self.pos
            )));
        }
        // Bounded by `max` above, so this cannot be a huge allocation.
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        self.inner.read_exact(&mut buf)?;
        self.pos = field_end;
        Ok(buf)
    }

    /// Reads a length-delimited UTF-8 string of at most `max` bytes.
    pub(crate) fn string(&mut self, end: u64, max: u64, what: &str) -> PbResult<String> {
        let at = self.pos;
        let bytes = self.bytes(end, max, what)?;
        String::from_utf8(bytes)
            .map_err(|_| PbError::Malformed(format!("{what} at byte {at} is not UTF-8")))
    }
}

/// Checks that `wire` is what the schema says field `field` of `message` has.
pub(crate) fn expect_wire(message: &str, field: u64, wire: Wire, expected: Wire) -> PbResult<()> {
    if wire == expected {
        Ok(())
    } else {
        Err(PbError::Malformed(format!(
            "{message} field {field} has wire type {wire:?}, expected {expected:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(bytes: &[u8]) -> PbReader<Cursor<Vec<u8>>> {
        PbReader::new(Cursor::new(bytes.to_vec()), bytes.len() as u64)
    }

    #[test]
    fn varints_decode_and_overflow_is_an_error() {
        let mut r = reader(&[0x96, 0x01]);
        assert_eq!(r.varint(2).unwrap(), 150);
        let mut r = reader(&[0xff; 11]);
        assert!(matches!(r.varint(11), Err(PbError::Malformed(_))));
        let mut r = reader(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(r.varint(10).unwrap(), u64::MAX);
        let mut r = reader(&[0x80]);
        assert!(matches!(r.varint(1), Err(PbError::Truncated(_))));
    }

    #[test]
    fn lengths_beyond_the_file_are_truncation() {
        // Field 7, LEN, length 100, but only 2 bytes follow.
        let mut r = reader(&[0x3a, 100, 1, 2]);
        let (field, wire) = r.tag(4).unwrap();
        assert_eq!((field, wire), (7, Wire::Len));
        assert!(matches!(r.len_end(4, "graph"), Err(PbError::Truncated(_))));
    }

    #[test]
    fn strings_are_bounded() {
        let mut r = reader(&[5, b'h', b'e', b'l', b'l', b'o']);
        assert!(matches!(r.string(6, 4, "name"), Err(PbError::Limit(_))));
        let mut r = reader(&[5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(r.string(6, 5, "name").unwrap(), "hello");
    }

    #[test]
    fn groups_are_refused() {
        let mut r = reader(&[0x0b]);
        assert!(matches!(r.tag(1), Err(PbError::Malformed(_))));
    }
}
