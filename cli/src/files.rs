//! Input and output files, compressed or not: `.zst` and `.gz` are read by
//! their magic bytes (whatever the name) and written by the file name's
//! extension; `-` is standard input or output.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::Context;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `path` (or stdin for `-`) for buffered reading, decompressing
/// zstd or gzip when the content starts with their magic.
pub fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(io::stdin())
    } else {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        // Progress counts the file's own bytes, compressed or not.
        let len = f.metadata().ok().map(|m| m.len());
        let pb = crate::progress::bytes(len, &format!("importing {}", path.display()));
        Box::new(crate::progress::Counting::new(f, pb))
    };
    let mut r = BufReader::with_capacity(1 << 16, raw);
    let head = r
        .fill_buf()
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(if head.starts_with(&ZSTD_MAGIC) {
        let d = zstd::stream::read::Decoder::with_buffer(r)
            .with_context(|| format!("zstd stream in {}", path.display()))?;
        Box::new(BufReader::with_capacity(1 << 16, d))
    } else if head.starts_with(&GZIP_MAGIC) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(r),
        ))
    } else {
        Box::new(r)
    })
}

/// An output that must be finished (compression trailers, flush) before
/// it is complete.
pub struct Output {
    inner: Box<dyn FinishWrite>,
}

trait FinishWrite: Write {
    fn finish_box(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write> FinishWrite for BufWriter<W> {
    fn finish_box(mut self: Box<Self>) -> io::Result<()> {
        self.flush()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'static, W> {
    fn finish_box(self: Box<Self>) -> io::Result<()> {
        self.finish()?.flush()
    }
}

impl<W: Write> FinishWrite for flate2::write::GzEncoder<W> {
    fn finish_box(self: Box<Self>) -> io::Result<()> {
        self.finish()?.flush()
    }
}

impl Write for Output {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.inner.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Output {
    /// Creates `path` (stdout for `-` or none), compressing for `.zst`/`.gz`.
    pub fn create(path: Option<&Path>) -> anyhow::Result<Output> {
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Output {
                inner: Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
            });
        };
        let f = BufWriter::with_capacity(
            1 << 16,
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        let inner: Box<dyn FinishWrite> = match path.extension().and_then(|e| e.to_str()) {
            Some("zst") => Box::new(zstd::stream::write::Encoder::new(f, 3)?),
            Some("gz") => Box::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::default(),
            )),
            _ => Box::new(f),
        };
        Ok(Output { inner })
    }

    /// Completes the stream (writes compression trailers, flushes).
    pub fn finish(self) -> io::Result<()> {
        self.inner.finish_box()
    }
}
