//! Streaming: export files are read on a thread of their own, one record at a time, and
//! each user is handed over through a bounded channel, so memory stays flat whatever
//! the size of the files.
//!
//! A JSON document is walked by serde_json with visitors that go down to the users'
//! array and hand over each element as soon as it is parsed, keeping only the fields the
//! provider's reader asked for (so password hashes are skipped, never held). NDJSON is
//! read a line at a time.
//!
//! Errors:
//! - a record that is well-formed JSON but not a usable user (no id, a wrong type) is an
//!   `Err` for that record, and reading goes on;
//! - a JSON document that is not well-formed cannot be resynchronised: its `Err` is the
//!   last item, and files after it are not read (a partial read must never look whole);
//! - a line of NDJSON that is not JSON is an `Err` for that line, and reading goes on.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::record::{Body, Field, FieldError, Pos, Record, join, shorten};
use super::{ExportUser, ReadError, Users};

/// Users are handed over this many at a time (fewer at the end of a file), which
/// spares a thread wake-up per user.
const BATCH: usize = 64;
/// Batches parsed ahead of the consumer, at most: with [`BATCH`], 1024 users.
const CHANNEL_CAPACITY: usize = 16;
/// The longest line of NDJSON read; a longer one is an error (and skipped).
const MAX_LINE_BYTES: usize = 16 << 20;
/// What the visitors return when the consumer has gone away.
const STOPPED: &str = "reading stopped";

/// How a provider's export files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// One JSON document: an object whose field `key` is the users' array, or, when
    /// `bare`, also the array itself.
    Json { key: &'static str, bare: bool },
    /// NDJSON: one user object per line.
    Lines,
}

/// One provider's reader: the files' layout, and how a record becomes a user.
pub(crate) trait Format: Send + 'static {
    fn layout(&self) -> Layout;
    /// The fields of a record that [`Format::convert`] reads; the others are skipped
    /// without being stored.
    fn fields(&self) -> &'static [&'static str];
    /// `kind`: the document's top-level `kind` string, if it had one before the users.
    fn convert(
        &self,
        record: Record,
        file: &Path,
        kind: Option<&str>,
    ) -> Result<ExportUser, FieldError>;
}

enum Msg {
    Batch(Vec<Result<ExportUser, ReadError>>),
    /// Everything was read (or reading ended at an error that was sent).
    Done,
}

/// Starts reading `paths` in order on a thread, and returns the users as they come.
pub(crate) fn spawn(format: Box<dyn Format>, paths: Vec<PathBuf>) -> Result<Users, ReadError> {
    let (tx, rx) = sync_channel(CHANNEL_CAPACITY);
    std::thread::Builder::new()
        .name("export-reader".into())
        .spawn(move || {
            let mut out = Out {
                tx,
                batch: Vec::with_capacity(BATCH),
            };
            for path in &paths {
                if read_file(&*format, path, &mut out).is_err() {
                    // The consumer is gone, or a fatal error was sent.
                    break;
                }
            }
            out.done();
        })
        .map_err(|e| ReadError {
            file: "<reader>".into(),
            line: 0,
            column: 0,
            message: format!("cannot start the reader thread: {e}"),
        })?;
    Ok(Box::new(Stream {
        rx,
        batch: Vec::new().into_iter(),
        ended: false,
    }))
}

/// The receiving end, as an iterator.
struct Stream {
    rx: Receiver<Msg>,
    batch: std::vec::IntoIter<Result<ExportUser, ReadError>>,
    ended: bool,
}

impl Iterator for Stream {
    type Item = Result<ExportUser, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            match self.rx.recv() {
                Ok(Msg::Batch(batch)) => self.batch = batch.into_iter(),
                Ok(Msg::Done) => self.ended = true,
                // The thread ended without saying it was done (it panicked): the read is
                // incomplete, which must not pass for the end of the export.
                Err(_) => {
                    self.ended = true;
                    return Some(Err(ReadError {
                        file: "<reader>".into(),
                        line: 0,
                        column: 0,
                        message: "the export reader stopped unexpectedly".into(),
                    }));
                }
            }
        }
    }
}

/// The sending end. `Err(Stop)`: stop reading (the consumer is gone, or the error just
/// sent ends the read).
struct Out {
    tx: SyncSender<Msg>,
    batch: Vec<Result<ExportUser, ReadError>>,
}

struct Stop;

impl Out {
    fn send(&mut self, item: Result<ExportUser, ReadError>) -> Result<(), Stop> {
        self.batch.push(item);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.send(Msg::Batch(batch)).map_err(|_| Stop)
    }

    /// Sends an error after which nothing more is read.
    fn fatal(&mut self, error: ReadError) -> Result<(), Stop> {
        let _ = self.send(Err(error));
        let _ = self.flush();
        Err(Stop)
    }

    fn done(mut self) {
        if self.flush().is_ok() {
            let _ = self.tx.send(Msg::Done);
        }
    }
}

fn read_file(format: &dyn Format, path: &Path, out: &mut Out) -> Result<(), Stop> {
    let name = path.display().to_string();
    let at_start = |message: String| ReadError {
        file: name.clone(),
        line: 0,
        column: 0,
        message,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return out.fatal(at_start(format!("cannot open: {e}"))),
    };
    let mut reader = BufReader::with_capacity(64 << 10, file);
    match reader.fill_buf() {
        Ok([0x1f, 0x8b, ..]) => {
            return out.fatal(at_start(
                "the file is gzip-compressed; decompress it first (gunzip)".into(),
            ));
        }
        Ok(_) => {}
        Err(e) => return out.fatal(at_start(format!("cannot read: {e}"))),
    }
    match format.layout() {
        Layout::Json { key, bare } => read_json(format, path, &name, reader, key, bare, out),
        Layout::Lines => read_lines(format, path, &name, reader, out),
    }
}

/// Where the parser is, and what it is in, for positions and messages.
struct Ctx {
    /// The place of the last byte the parser took from the file.
    at: Rc<Cell<Pos>>,
    /// The name of the users' array (empty for a bare array or NDJSON).
    array: Cell<&'static str>,
    /// The index of the element being read, while in the users' array.
    index: Cell<Option<usize>>,
    /// The key whose value is being read: of the record, or of the top-level object
    /// outside the array; empty between fields.
    field: RefCell<String>,
    /// The top-level `kind`, once read.
    kind: RefCell<Option<String>>,
    /// Set when the consumer went away.
    stopped: Cell<bool>,
}

impl Ctx {
    fn new(at: Pos) -> Self {
        Ctx {
            at: Rc::new(Cell::new(at)),
            array: Cell::new(""),
            index: Cell::new(None),
            field: RefCell::new(String::new()),
            kind: RefCell::new(None),
            stopped: Cell::new(false),
        }
    }

    /// `users[3].email`, `users[3]`, `kind`, or empty: where a parse error happened.
    fn path(&self) -> String {
        let field = self.field.borrow();
        match self.index.get() {
            Some(i) => join(&format!("{}[{i}]", self.array.get()), &field),
            None => shorten(&field).to_owned(),
        }
    }

    /// A serde_json error as a [`ReadError`] of `file`, prefixed with where it happened.
    fn error(&self, file: &str, e: &serde_json::Error) -> ReadError {
        let (line, column) = if e.line() == 0 {
            self.at.get()
        } else {
            (e.line(), e.column())
        };
        let text = e.to_string();
        let text = text
            .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
            .unwrap_or(&text);
        let path = self.path();
        ReadError {
            file: file.to_owned(),
            line,
            column,
            message: if path.is_empty() {
                text.to_owned()
            } else {
                format!("{path}: {text}")
            },
        }
    }
}

/// A buffered reader that keeps the line and column of the last byte taken, for the
/// visitors (serde_json keeps its own only for its errors). serde_json takes one byte
/// at a time, which this serves from its buffer.
struct Counting<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    at: Rc<Cell<Pos>>,
}

impl<R: Read> Counting<R> {
    fn new(inner: R, capacity: usize, at: Rc<Cell<Pos>>) -> Self {
        Counting {
            inner,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
            at,
        }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            self.len = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        // serde_json's case, kept short: it is most of the time spent in debug builds.
        if let [slot] = out
            && self.pos < self.len
        {
            let b = self.buf[self.pos];
            self.pos += 1;
            *slot = b;
            let (line, column) = self.at.get();
            self.at.set(if b == b'\n' {
                (line + 1, 0)
            } else {
                (line, column + 1)
            });
            return Ok(1);
        }
        let n = out.len().min(self.len - self.pos);
        let taken = &self.buf[self.pos..self.pos + n];
        out[..n].copy_from_slice(taken);
        self.pos += n;
        let (mut line, mut column) = self.at.get();
        for &b in taken {
            if b == b'\n' {
                line += 1;
                column = 0;
            } else {
                column += 1;
            }
        }
        self.at.set((line, column));
        Ok(n)
    }
}

fn read_json(
    format: &dyn Format,
    path: &Path,
    name: &str,
    reader: BufReader<File>,
    key: &'static str,
    bare: bool,
    out: &mut Out,
) -> Result<(), Stop> {
    let ctx = Ctx::new((1, 0));
    let counting = Counting::new(reader, 64 << 10, ctx.at.clone());
    let mut de = serde_json::Deserializer::from_reader(counting);
    let mut sink = |record: Record| -> bool {
        let kind = ctx.kind.borrow();
        let item = format
            .convert(record, path, kind.as_deref())
            .map_err(|e| to_read_error(name, e));
        let sent = out.send(item).is_ok();
        if !sent {
            ctx.stopped.set(true);
        }
        sent
    };
    let top = Top {
        ctx: &ctx,
        key,
        bare,
        fields: format.fields(),
        sink: &mut sink,
    };
    let parsed = de.deserialize_any(top).and_then(|()| de.end());
    match parsed {
        Ok(()) => Ok(()),
        Err(_) if ctx.stopped.get() => Err(Stop),
        Err(e) => out.fatal(ctx.error(name, &e)),
    }
}

fn read_lines(
    format: &dyn Format,
    path: &Path,
    name: &str,
    mut reader: BufReader<File>,
    out: &mut Out,
) -> Result<(), Stop> {
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return Ok(()),
            Ok(_) => line_no += 1,
            Err(e) => {
                return out.fatal(ReadError {
                    file: name.to_owned(),
                    line: line_no + 1,
                    column: 0,
                    message: format!("cannot read: {e}"),
                });
            }
        }
        if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            out.send(Err(ReadError {
                file: name.to_owned(),
                line: line_no,
                column: 0,
                message: format!("the line is longer than {MAX_LINE_BYTES} bytes"),
            }))?;
            // Skip the rest of the line.
            loop {
                buf.clear();
                match (&mut reader)
                    .take(MAX_LINE_BYTES as u64)
                    .read_until(b'\n', &mut buf)
                {
                    Ok(0) => return Ok(()),
                    Ok(_) if buf.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                    Err(e) => {
                        return out.fatal(ReadError {
                            file: name.to_owned(),
                            line: line_no,
                            column: 0,
                            message: format!("cannot read: {e}"),
                        });
                    }
                }
            }
            continue;
        }
        let line = buf.trim_ascii_end();
        if line.trim_ascii_start().is_empty() {
            continue;
        }
        let item = read_line(format, path, name, line, line_no);
        out.send(item)?;
    }
}

/// One line of NDJSON: one user.
fn read_line(
    format: &dyn Format,
    path: &Path,
    name: &str,
    line: &[u8],
    line_no: usize,
) -> Result<ExportUser, ReadError> {
    let ctx = Ctx::new((line_no, 0));
    let counting = Counting::new(line, line.len(), ctx.at.clone());
    let mut de = serde_json::Deserializer::from_reader(counting);
    let seed = RecordSeed {
        ctx: &ctx,
        fields: format.fields(),
    };
    let record = seed
        .deserialize(&mut de)
        .and_then(|record| de.end().map(|()| record))
        .map_err(|e| {
            let mut error = ctx.error(name, &e);
            // serde_json counts lines within the line.
            error.line = line_no;
            error
        })?;
    format
        .convert(record, path, None)
        .map_err(|e| to_read_error(name, e))
}

fn to_read_error(file: &str, e: FieldError) -> ReadError {
    ReadError {
        file: file.to_owned(),
        line: e.pos.0,
        column: e.pos.1,
        message: e.message,
    }
}

/// The whole document: finds the users' array among the top-level fields (remembering
/// `kind` on the way), or takes the document as the array when `bare`.
struct Top<'a, 'f> {
    ctx: &'a Ctx,
    key: &'static str,
    bare: bool,
    fields: &'static [&'static str],
    sink: &'a mut (dyn FnMut(Record) -> bool + 'f),
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bare {
            write!(
                f,
                "an array of users, or an object with a \"{}\" array",
                self.key
            )
        } else {
            write!(f, "an object with a \"{}\" array", self.key)
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut found = false;
        while map.next_key_seed(KeySeed { ctx, keep: &[] })?.is_some() {
            let (is_users, is_kind) = {
                let field = ctx.field.borrow();
                (*field == self.key, *field == "kind")
            };
            if is_users {
                if found {
                    return Err(de::Error::custom(format_args!(
                        "a second \"{}\" field",
                        self.key
                    )));
                }
                found = true;
                ctx.array.set(self.key);
                map.next_value_seed(Array {
                    ctx,
                    fields: self.fields,
                    sink: &mut *self.sink,
                })?;
            } else if is_kind {
                let kind: Value = map.next_value()?;
                *ctx.kind.borrow_mut() = kind.as_str().map(str::to_owned);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            ctx.field.borrow_mut().clear();
        }
        if found {
            Ok(())
        } else {
            Err(de::Error::custom(format_args!(
                "no \"{}\" field (expected {{\"{}\": [...]}})",
                self.key, self.key
            )))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        if !self.bare {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        }
        Array {
            ctx: self.ctx,
            fields: self.fields,
            sink: self.sink,
        }
        .visit_seq(seq)
    }
}

/// The users' array: each element is handed to the sink as soon as it is parsed.
struct Array<'a, 'f> {
    ctx: &'a Ctx,
    fields: &'static [&'static str],
    sink: &'a mut (dyn FnMut(Record) -> bool + 'f),
}

impl<'de> DeserializeSeed<'de> for Array<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Array<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of users")
    }

    /// `null` for no users (what a Go server writes for an empty list).
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = self.ctx;
        let mut index = 0;
        loop {
            ctx.index.set(Some(index));
            ctx.field.borrow_mut().clear();
            let seed = RecordSeed {
                ctx,
                fields: self.fields,
            };
            let Some(record) = seq.next_element_seed(seed)? else {
                break;
            };
            if !(self.sink)(record) {
                return Err(de::Error::custom(STOPPED));
            }
            index += 1;
        }
        ctx.index.set(None);
        ctx.field.borrow_mut().clear();
        Ok(())
    }
}

/// One element of the users' array (or one line): an object, of which only the fields
/// named in `fields` are kept.
struct RecordSeed<'a> {
    ctx: &'a Ctx,
    fields: &'static [&'static str],
}

impl RecordSeed<'_> {
    fn record(&self, body: Body) -> Record {
        Record {
            array: self.ctx.array.get(),
            index: self.ctx.index.get(),
            start: self.ctx.at.get(),
            body,
        }
    }
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Record, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a user object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let ctx = self.ctx;
        // The parser has just taken the `{`.
        let start = ctx.at.get();
        let mut fields = Vec::new();
        while let Some(kept) = map.next_key_seed(KeySeed {
            ctx,
            keep: self.fields,
        })? {
            match kept {
                Some(name) => {
                    let pos = ctx.at.get();
                    let value: Value = map.next_value()?;
                    fields.push(Field { name, value, pos });
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            // A field is named in a parse error only while its value is being read.
            ctx.field.borrow_mut().clear();
        }
        ctx.field.borrow_mut().clear();
        let mut record = self.record(Body::Object(fields));
        record.start = start;
        Ok(record)
    }

    // Anything but an object is kept as "not an object", for the reader to report; the
    // document stays in step.
    fn visit_unit<E: de::Error>(self) -> Result<Record, E> {
        Ok(self.record(Body::Other("null")))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Record, E> {
        Ok(self.record(Body::Other("a boolean")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Record, E> {
        Ok(self.record(Body::Other("a number")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Record, E> {
        Ok(self.record(Body::Other("a number")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Record, E> {
        Ok(self.record(Body::Other("a number")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Record, E> {
        Ok(self.record(Body::Other("a string")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Record, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.record(Body::Other("an array")))
    }
}

/// A key: remembered in the context (for messages), and matched against the kept fields
/// without allocating.
struct KeySeed<'a> {
    ctx: &'a Ctx,
    keep: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<&'static str>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let mut field = self.ctx.field.borrow_mut();
        field.clear();
        field.push_str(key);
        Ok(self.keep.iter().copied().find(|k| *k == key))
    }
}
