//! Element types. float32 is the default; bfloat16 is mixed precision's (autocast's) compute type;
//! int64 holds labels and indices; bool holds masks.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    BF16,
    I64,
    Bool,
}

impl DType {
    /// The name used by the JS API (`'float32'`), PyTorch-style.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::Bool => "bool",
        }
    }

    pub fn parse(name: &str) -> Result<DType> {
        match name {
            "float32" | "float" => Ok(DType::F32),
            "bfloat16" => Ok(DType::BF16),
            "int64" | "long" => Ok(DType::I64),
            "bool" => Ok(DType::Bool),
            other => Err(Error::invalid(
                "dtype",
                format!(
                    "unknown dtype '{other}'; expected 'float32', 'bfloat16', 'int64' or 'bool'"
                ),
            )),
        }
    }

    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::BF16 => 2,
            DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    pub fn is_float(self) -> bool {
        match self {
            DType::F32 | DType::BF16 => true,
            DType::I64 | DType::Bool => false,
        }
    }

    /// PyTorch's promotion for two tensor operands of the dtypes we have: float32 beats bfloat16
    /// beats int beats bool.
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a, b) {
            (F32, _) | (_, F32) => F32,
            (BF16, _) | (_, BF16) => BF16,
            (I64, _) | (_, I64) => I64,
            (Bool, Bool) => Bool,
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
