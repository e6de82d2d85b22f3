//! The one error type of the core. Every variant names the op that failed; the binding maps
//! `Error::code()` onto a stable JS `err.code`.

use std::fmt;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Shapes that cannot work together (broadcasting, matmul, reshape, ragged data).
    #[error("{op}: {detail}")]
    ShapeMismatch { op: &'static str, detail: String },
    /// An operand of the wrong dtype.
    #[error("{op}: expected {expected}, got {got}")]
    DTypeMismatch {
        op: &'static str,
        expected: String,
        got: String,
    },
    /// Operands on different devices.
    #[error("{op}: expected all tensors on {expected}, got {got}")]
    DeviceMismatch {
        op: &'static str,
        expected: String,
        got: String,
    },
    /// A device that this build or this machine cannot provide.
    #[error("{op}: {detail}")]
    DeviceUnavailable { op: &'static str, detail: String },
    /// A dimension or index outside its valid range.
    #[error("{op}: {detail}")]
    IndexOutOfRange { op: &'static str, detail: String },
    /// Any other argument that is not acceptable.
    #[error("{op}: {detail}")]
    InvalidArgument { op: &'static str, detail: String },
    /// A file that cannot be read or written: missing, unreadable, truncated or corrupt, or
    /// holding data Ferrite cannot represent.
    #[error("{op}: {path}: {detail}")]
    Io {
        op: &'static str,
        path: String,
        detail: String,
    },
    /// A buffer larger than the allocation limit, or than the system can give.
    #[error("{op}: cannot allocate {}: {reason}", Bytes(*requested))]
    OutOfMemory {
        op: &'static str,
        /// Bytes asked for (u128: a request may be larger than any address space).
        requested: u128,
        reason: String,
    },
    /// An op that cannot be part of a traced graph read a tensor of the function being traced.
    #[error("{op}: {detail}")]
    Untraceable { op: String, detail: String },
    /// A bug in Ferrite rather than in the caller's input (for example a caught panic).
    #[error("{op}: internal error: {detail}")]
    Internal { op: &'static str, detail: String },
}

impl Error {
    /// The stable identifier that JS code can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ShapeMismatch { .. } => "ShapeMismatch",
            Error::DTypeMismatch { .. } => "DTypeMismatch",
            Error::DeviceMismatch { .. } => "DeviceMismatch",
            Error::DeviceUnavailable { .. } => "DeviceUnavailable",
            Error::IndexOutOfRange { .. } => "IndexOutOfRange",
            Error::InvalidArgument { .. } => "InvalidArgument",
            Error::Io { .. } => "Io",
            Error::OutOfMemory { .. } => "OutOfMemory",
            Error::Untraceable { .. } => "Untraceable",
            Error::Internal { .. } => "Internal",
        }
    }

    pub fn shape(op: &'static str, detail: impl fmt::Display) -> Self {
        Error::ShapeMismatch {
            op,
            detail: detail.to_string(),
        }
    }

    pub fn dtype(op: &'static str, expected: impl fmt::Display, got: impl fmt::Display) -> Self {
        Error::DTypeMismatch {
            op,
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    pub fn invalid(op: &'static str, detail: impl fmt::Display) -> Self {
        Error::InvalidArgument {
            op,
            detail: detail.to_string(),
        }
    }

    pub fn io(op: &'static str, path: &std::path::Path, detail: impl fmt::Display) -> Self {
        Error::Io {
            op,
            path: path.display().to_string(),
            detail: detail.to_string(),
        }
    }

    pub fn index(op: &'static str, detail: impl fmt::Display) -> Self {
        Error::IndexOutOfRange {
            op,
            detail: detail.to_string(),
        }
    }
}

/// Formats a shape the way error messages and PyTorch show it: `[2, 3]`.
pub(crate) struct ShapeDisplay<'a>(pub &'a [usize]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}
/// A byte count as error messages show it: exact, then in binary units (`17179869184 bytes (16.0 GiB)`).
pub(crate) struct Bytes(pub u128);

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut value = self.0 as f64;
        let mut unit = 0;
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 {
            write!(f, "{} bytes", self.0)
        } else {
            write!(f, "{} bytes ({value:.1} {})", self.0, UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_show_exact_and_binary_units() {
        assert_eq!(Bytes(512).to_string(), "512 bytes");
        assert_eq!(Bytes(3 << 30).to_string(), "3221225472 bytes (3.0 GiB)");
    }
}
