//! The one error type of the crate. It carries numbers, not strings, so the core needs no
//! allocator; `Display` renders the message the Python and C bindings show.

use core::fmt;

/// Everything that can go wrong in the core: bad parameters, bad buffers, a cancelled batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A numeric parameter outside its valid range (`range` reads like "1 <= dim <= 65536").
    OutOfRange {
        param: &'static str,
        value: u64,
        range: &'static str,
    },
    /// An explicit layout whose number of parts is not `max_ngram`.
    LayoutLength { expected: usize, got: usize },
    /// An explicit layout with a zero-sized part.
    LayoutPartZero { index: usize },
    /// An explicit layout whose parts do not add up to `dim`.
    LayoutSum { sum: u64, dim: u64 },
    /// A named layout that leaves n-gram size `size` with no output position.
    LayoutPartEmpty { size: usize, dim: u64 },
    /// `hash_seeds` of the wrong length.
    HashSeedsLength { expected: usize, got: usize },
    /// One of `hash_seeds` outside `1 <= h < buckets`.
    HashSeed {
        index: usize,
        value: u64,
        buckets: u64,
    },
    /// An output buffer of the wrong length.
    OutputLength { expected: usize, got: usize },
    /// A row map whose length is not the number of texts.
    RowsLength { expected: usize, got: usize },
    /// A row map entry that repeats an earlier one or lies past the output.
    Row {
        index: usize,
        row: usize,
        rows: usize,
    },
    /// Token id `index` of a call (in flat order) is not below the vocabulary's `tokens`.
    Id {
        index: usize,
        id: usize,
        tokens: usize,
    },
    /// Text `index` of a UTF-8 batch is not valid UTF-8 from byte `byte` on.
    Utf8 { index: usize, byte: usize },
    /// Batch offsets that are not non-decreasing or run past the text buffer.
    Offsets { index: usize },
    /// A batch or table whose output size overflows the address space, or a buffer that
    /// cannot be allocated.
    TooLarge,
    /// A kernel name that is not one of auto, scalar, avx2, avx512.
    UnknownKernel,
    /// A kernel this CPU cannot run.
    UnsupportedKernel { name: &'static str },
    /// The operating system would not start the worker threads.
    Threads,
    /// The caller asked the batch to stop.
    Cancelled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::OutOfRange {
                param,
                value,
                range,
            } => {
                write!(f, "{param}={value} is out of range: expected {range}")
            }
            Error::LayoutLength { expected, got } => write!(
                f,
                "layout has {got} parts: expected one per n-gram size, {expected} (max_ngram)"
            ),
            Error::LayoutPartZero { index } => {
                write!(f, "layout[{index}] is 0: every part must be at least 1")
            }
            Error::LayoutSum { sum, dim } => {
                write!(
                    f,
                    "layout parts sum to {sum}: expected them to sum to dim={dim}"
                )
            }
            Error::LayoutPartEmpty { size, dim } => write!(
                f,
                "layout gives {size}-grams no output position at dim={dim}: \
                 use a larger dim, a smaller max_ngram or an explicit layout"
            ),
            Error::HashSeedsLength { expected, got } => {
                write!(f, "hash_seeds has {got} values: expected dim={expected}")
            }
            Error::HashSeed {
                index,
                value,
                buckets,
            } => write!(
                f,
                "hash_seeds[{index}]={value} is out of range: expected 1 <= h < buckets={buckets}"
            ),
            Error::OutputLength { expected, got } => {
                write!(f, "output holds {got} values: expected {expected}")
            }
            Error::RowsLength { expected, got } => {
                write!(f, "rows has {got} entries: expected one per text, {expected}")
            }
            Error::Row { index, row, rows } => write!(
                f,
                "rows[{index}]={row} repeats an earlier row or is not below the output's {rows} rows"
            ),
            Error::Id { index, id, tokens } => write!(
                f,
                "ids[{index}]={id} is not an id of the vocabulary's {tokens} tokens"
            ),
            Error::Utf8 { index, byte } => write!(f, "text {index} {}", Utf8Reason(byte)),
            Error::Offsets { index } => write!(
                f,
                "offsets[{index}] is out of order or past the end of the text buffer"
            ),
            Error::TooLarge => write!(
                f,
                "the batch or its output would not fit in this machine's memory or address space"
            ),
            Error::UnknownKernel => {
                write!(f, "unknown kernel: expected auto, scalar, avx2 or avx512")
            }
            Error::UnsupportedKernel { name } => {
                write!(f, "kernel {name} is not supported by this CPU")
            }
            Error::Threads => write!(f, "could not start worker threads"),
            Error::Cancelled => write!(f, "cancelled"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// What is wrong with a text that is not valid UTF-8 from byte `.0` on: the message after
/// the text's name, for bindings that name texts their own way (an Arrow row, a line).
pub struct Utf8Reason(pub usize);

impl fmt::Display for Utf8Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "is not valid UTF-8 (at byte {})", self.0)
    }
}
