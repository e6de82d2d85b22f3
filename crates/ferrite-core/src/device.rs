//! Where a tensor's storage lives: the CPU or a CUDA GPU by its ordinal.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(usize),
}

impl Device {
    /// Parses `'cpu'`, `'cuda'` (device 0) or `'cuda:N'`.
    pub fn parse(name: &str) -> Result<Device> {
        let bad = || {
            Error::invalid(
                "device",
                format!("unknown device '{name}'; expected 'cpu', 'cuda' or 'cuda:N'"),
            )
        };
        match name {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => {
                let index = name.strip_prefix("cuda:").ok_or_else(bad)?;
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                index.parse().map(Device::Cuda).map_err(|_| bad())
            }
        }
    }

    /// Fails unless this build can place tensors on the device.
    pub fn ensure_available(self, op: &'static str) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(index) => match crate::cuda::unavailable_detail(index) {
                None => Ok(()),
                Some(detail) => Err(Error::DeviceUnavailable { op, detail }),
            },
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!(Device::parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(Device::parse("cuda").unwrap(), Device::Cuda(0));
        assert_eq!(Device::parse("cuda:3").unwrap(), Device::Cuda(3));
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU"] {
            assert_eq!(
                Device::parse(bad).unwrap_err().code(),
                "InvalidArgument",
                "{bad}"
            );
        }
    }
}
