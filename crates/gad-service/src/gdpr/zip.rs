//! A minimal streaming ZIP writer (deflate, sizes in data descriptors, no seeking), so an
//! export is compressed while it is sent: nothing is held but the deflater's window and the
//! central directory. Limits: 4 GiB per entry and in total, 65 535 entries (no ZIP64); a
//! larger export fails instead of producing a broken archive.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL: u32 = 0x0605_4b50;
/// Bit 3: sizes and CRC follow the data; bit 11: the name is UTF-8.
const FLAGS: u16 = 0x0808;
const DEFLATE: u16 = 8;
const VERSION: u16 = 20;

struct Done {
    name: String,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

struct Current {
    name: String,
    offset: u64,
    crc: crc32fast::Hasher,
    size: u64,
    compressed: u64,
    enc: DeflateEncoder<Vec<u8>>,
}

/// Builds the archive's bytes piece by piece: each call returns the bytes to send next.
pub struct ZipWriter {
    offset: u64,
    done: Vec<Done>,
    current: Option<Current>,
    dos_time: u16,
    dos_date: u16,
}

fn too_large() -> std::io::Error {
    std::io::Error::other("export too large for a ZIP without ZIP64 (4 GiB)")
}

fn u32_of(v: u64) -> std::io::Result<u32> {
    u32::try_from(v).map_err(|_| too_large())
}

impl Default for ZipWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ZipWriter {
    pub fn new() -> ZipWriter {
        use chrono::{Datelike, Timelike};
        let now = chrono::Utc::now();
        let dos_time =
            ((now.hour() as u16) << 11) | ((now.minute() as u16) << 5) | (now.second() as u16 / 2);
        let year = (now.year().clamp(1980, 2107) - 1980) as u16;
        let dos_date = (year << 9) | ((now.month() as u16) << 5) | now.day() as u16;
        ZipWriter {
            offset: 0,
            done: Vec::new(),
            current: None,
            dos_time,
            dos_date,
        }
    }

    fn emit(&mut self, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
        self.offset += bytes.len() as u64;
        u32_of(self.offset)?;
        Ok(bytes)
    }

    /// Starts an entry (finishing the previous one); returns its local header (plus the
    /// previous entry's tail).
    pub fn start(&mut self, name: &str) -> std::io::Result<Vec<u8>> {
        let mut out = self.finish_entry()?;
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        h.extend_from_slice(&VERSION.to_le_bytes());
        h.extend_from_slice(&FLAGS.to_le_bytes());
        h.extend_from_slice(&DEFLATE.to_le_bytes());
        h.extend_from_slice(&self.dos_time.to_le_bytes());
        h.extend_from_slice(&self.dos_date.to_le_bytes());
        h.extend_from_slice(&[0u8; 12]); // crc, compressed, size: in the data descriptor
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(name.as_bytes());
        // `finish_entry` has already counted `out` in `self.offset`.
        let offset = self.offset;
        self.current = Some(Current {
            name: name.to_string(),
            offset,
            crc: crc32fast::Hasher::new(),
            size: 0,
            compressed: 0,
            enc: DeflateEncoder::new(Vec::new(), Compression::fast()),
        });
        out.extend(self.emit(h)?);
        Ok(out)
    }

    /// Compresses `data` into the current entry; returns the compressed bytes ready so far.
    pub fn write(&mut self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        let Some(c) = self.current.as_mut() else {
            return Err(std::io::Error::other("no ZIP entry started"));
        };
        c.crc.update(data);
        c.size += data.len() as u64;
        c.enc.write_all(data)?;
        let ready = std::mem::take(c.enc.get_mut());
        c.compressed += ready.len() as u64;
        u32_of(c.size)?;
        self.emit(ready)
    }

    /// Ends the current entry (if any): the rest of its data and its descriptor.
    pub fn finish_entry(&mut self) -> std::io::Result<Vec<u8>> {
        let Some(c) = self.current.take() else {
            return Ok(Vec::new());
        };
        let mut rest = c.enc.finish()?;
        let compressed = u32_of(c.compressed + rest.len() as u64)?;
        let crc = c.crc.finalize();
        let size = u32_of(c.size)?;
        rest.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
        rest.extend_from_slice(&crc.to_le_bytes());
        rest.extend_from_slice(&compressed.to_le_bytes());
        rest.extend_from_slice(&size.to_le_bytes());
        self.done.push(Done {
            name: c.name,
            crc,
            compressed,
            size,
            offset: u32_of(c.offset)?,
        });
        self.emit(rest)
    }

    /// Ends the archive: the last entry's tail, the central directory and its end record.
    pub fn finish(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = self.finish_entry()?;
        let cd_start = self.offset;
        let mut cd = Vec::new();
        for d in &self.done {
            cd.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            cd.extend_from_slice(&VERSION.to_le_bytes()); // made by
            cd.extend_from_slice(&VERSION.to_le_bytes()); // needed
            cd.extend_from_slice(&FLAGS.to_le_bytes());
            cd.extend_from_slice(&DEFLATE.to_le_bytes());
            cd.extend_from_slice(&self.dos_time.to_le_bytes());
            cd.extend_from_slice(&self.dos_date.to_le_bytes());
            cd.extend_from_slice(&d.crc.to_le_bytes());
            cd.extend_from_slice(&d.compressed.to_le_bytes());
            cd.extend_from_slice(&d.size.to_le_bytes());
            cd.extend_from_slice(&(d.name.len() as u16).to_le_bytes());
            cd.extend_from_slice(&[0u8; 12]); // extra len, comment len, disk, internal, external attrs
            cd.extend_from_slice(&d.offset.to_le_bytes());
            cd.extend_from_slice(d.name.as_bytes());
        }
        let entries = u16::try_from(self.done.len()).map_err(|_| too_large())?;
        let cd_len = u32_of(cd.len() as u64)?;
        cd.extend_from_slice(&END_OF_CENTRAL.to_le_bytes());
        cd.extend_from_slice(&[0u8; 4]); // disk numbers
        cd.extend_from_slice(&entries.to_le_bytes());
        cd.extend_from_slice(&entries.to_le_bytes());
        cd.extend_from_slice(&cd_len.to_le_bytes());
        cd.extend_from_slice(&u32_of(cd_start)?.to_le_bytes());
        cd.extend_from_slice(&0u16.to_le_bytes());
        out.extend(self.emit(cd)?);
        Ok(out)
    }
}
