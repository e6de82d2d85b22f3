//! The safetensors format: an 8-byte header length, a JSON header (dtype, shape and byte range of
//! each named tensor, plus optional string metadata), then the raw little-endian data. PyTorch
//! (`safetensors.torch`) and the Hugging Face tools read and write it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use ::safetensors::tensor::TensorInfo;
use ::safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use half::{bf16, f16};

use crate::error::{Error, Result, ShapeDisplay};
use crate::storage::CpuStorage;
use crate::tensor::Tensor;

/// The header key of the file's string metadata, which no tensor may use.
const METADATA_KEY: &str = "__metadata__";

/// One tensor's bytes, laid out as the file stores them.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }

    fn data_len(&self) -> usize {
        self.data.len()
    }
}

fn encode(tensor: &Tensor) -> Result<Encoded> {
    let (dtype, data) = match tensor.to_cpu_storage()? {
        CpuStorage::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::BF16(v) => (
            Dtype::BF16,
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        CpuStorage::I64(v) => (Dtype::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        CpuStorage::Bool(v) => (Dtype::BOOL, v.iter().map(|&x| x as u8).collect()),
    };
    Ok(Encoded {
        dtype,
        shape: tensor.shape().to_vec(),
        data,
    })
}

/// Writes `named` tensors to `path` (replacing it whole, or not at all, see `write_atomically`).
/// The file lists them sorted by name, whatever their order here.
pub fn save_safetensors(
    named: &[(String, Tensor)],
    path: &Path,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let mut seen = HashSet::new();
    if let Some((name, _)) = named.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(Error::invalid(
            "save",
            format!("the key '{name}' appears twice"),
        ));
    }
    if seen.contains(METADATA_KEY) {
        return Err(Error::invalid(
            "save",
            format!("'{METADATA_KEY}' cannot name a tensor: safetensors reserves it for the file's metadata (pass metadata in the options instead)"),
        ));
    }
    let encoded: Vec<(&str, Encoded)> = named
        .iter()
        .map(|(name, t)| Ok((name.as_str(), encode(t)?)))
        .collect::<Result<_>>()?;
    let bytes = ::safetensors::serialize(encoded.iter().map(|(name, e)| (*name, e)), metadata)
        .map_err(|e| Error::io("save", path, format!("cannot encode the tensors: {e}")))?;
    super::write_atomically("save", path, &bytes)
}

/// Reads every tensor of the safetensors file at `path`, sorted by name (the order
/// `safetensors.torch.load_file` gives), converted as `decode` says.
pub fn load_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("load", path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| invalid_file(path, &bytes, e))?;
    let mut names = file.names();
    names.sort_unstable();
    names
        .into_iter()
        .map(|name| {
            let view = file.tensor(name).map_err(|e| Error::io("load", path, e))?;
            Ok((
                name.to_string(),
                decode(path, name, view.dtype(), view.shape(), view.data())?,
            ))
        })
        .collect()
}

/// The free-form string metadata of the safetensors file at `path` (empty when it has none).
pub fn load_safetensors_metadata(path: &Path) -> Result<HashMap<String, String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("load", path, e))?;
    let (_, header) =
        SafeTensors::read_metadata(&bytes).map_err(|e| invalid_file(path, &bytes, e))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

fn invalid_file(path: &Path, bytes: &[u8], e: SafeTensorError) -> Error {
    let detail = match e {
        SafeTensorError::TensorInvalidInfo => inconsistent_tensor(bytes),
        _ => None,
    };
    Error::io(
        "load",
        path,
        detail.unwrap_or_else(|| {
            format!("not a valid safetensors file (truncated or corrupt?): {e}")
        }),
    )
}

/// `SafeTensors` only says that some tensor's dtype, shape and byte range disagree; this reads
/// the header again to say which tensor and how.
fn inconsistent_tensor(bytes: &[u8]) -> Option<String> {
    let len = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: HashMap<String, serde_json::Value> =
        serde_json::from_slice(bytes.get(8..len.checked_add(8)?)?).ok()?;
    let mut names: Vec<&String> = header.keys().filter(|k| *k != METADATA_KEY).collect();
    names.sort_unstable();
    names.into_iter().find_map(|name| {
        let info: TensorInfo = serde_json::from_value(header[name].clone()).ok()?;
        let (start, end) = info.data_offsets;
        let bits = info
            .shape
            .iter()
            .try_fold(info.dtype.bitsize(), |n, &d| n.checked_mul(d))?;
        let found = end.checked_sub(start)?;
        (bits != found * 8).then(|| {
            format!(
                "tensor '{name}' does not match its data: dtype {:?} and shape {} take {} bytes, but its data_offsets [{start}, {end}] hold {found} (was its dtype or shape changed without its data?)",
                info.dtype,
                ShapeDisplay(&info.shape),
                bits.div_ceil(8)
            )
        })
    })
}

/// Converts the file's dtypes to Ferrite's: F32, BF16, I64 and BOOL as they are; F16 to float32
/// (exact); F64 to float32 (rounded: `loadStateDict` into a float32 parameter would round it
/// anyway, as PyTorch's does); the other integer types to int64 (exact; U64 only when every value
/// fits). Other dtypes (float8, complex, ...) are an error naming the tensor and the dtype.
fn decode(path: &Path, name: &str, dtype: Dtype, shape: &[usize], data: &[u8]) -> Result<Tensor> {
    fn ints<const N: usize>(data: &[u8], read: fn([u8; N]) -> i64) -> CpuStorage {
        CpuStorage::I64(data.chunks_exact(N).map(|c| read(le_bytes(c))).collect())
    }
    let storage = match dtype {
        Dtype::F32 => CpuStorage::F32(data.chunks_exact(4).map(|c| f32::from_le_bytes(le_bytes(c))).collect()),
        Dtype::F16 => CpuStorage::F32(data.chunks_exact(2).map(|c| f16::from_le_bytes(le_bytes(c)).to_f32()).collect()),
        Dtype::F64 => CpuStorage::F32(data.chunks_exact(8).map(|c| f64::from_le_bytes(le_bytes(c)) as f32).collect()),
        Dtype::BF16 => CpuStorage::BF16(data.chunks_exact(2).map(|c| bf16::from_le_bytes(le_bytes(c))).collect()),
        Dtype::I64 => ints(data, i64::from_le_bytes),
        Dtype::I32 => ints(data, |b| i32::from_le_bytes(b).into()),
        Dtype::I16 => ints(data, |b| i16::from_le_bytes(b).into()),
        Dtype::I8 => ints(data, |b: [u8; 1]| (b[0] as i8).into()),
        Dtype::U32 => ints(data, |b| u32::from_le_bytes(b).into()),
        Dtype::U16 => ints(data, |b| u16::from_le_bytes(b).into()),
        Dtype::U8 => ints(data, |b: [u8; 1]| b[0].into()),
        Dtype::U64 => {
            let values = data.chunks_exact(8).map(|c| i64::try_from(u64::from_le_bytes(le_bytes(c))));
            match values.collect::<std::result::Result<Vec<i64>, _>>() {
                Ok(v) => CpuStorage::I64(v),
                Err(_) => {
                    return Err(Error::io(
                        "load",
                        path,
                        format!("tensor '{name}' has dtype U64 with values above int64's largest, which Ferrite's int64 cannot hold"),
                    ))
                }
            }
        }
        Dtype::BOOL => CpuStorage::Bool(data.iter().map(|&b| b != 0).collect()),
        other => {
            return Err(Error::io(
                "load",
                path,
                format!("tensor '{name}' has dtype {other:?}; Ferrite loads F32, F16 and F64 (as float32), BF16, integer (as int64) and BOOL tensors (convert it, e.g. with `.float()`, before saving)"),
            ))
        }
    };
    // The header's byte ranges were validated against the shapes, so the counts agree.
    Tensor::from_cpu(storage, shape)
}

/// A chunk from `chunks_exact(N)` as an array (its length is always N).
fn le_bytes<const N: usize>(chunk: &[u8]) -> [u8; N] {
    let mut bytes = [0; N];
    bytes.copy_from_slice(chunk);
    bytes
}

#[cfg(test)]
mod tests {
    use super::super::test_dir::TestDir;
    use super::*;
    use crate::dtype::DType;

    fn sample() -> Vec<(String, Tensor)> {
        vec![
            (
                "weight".into(),
                Tensor::from_f32(vec![1.5, -2.0, 0.25, 3.0, f32::NAN, -0.0], &[2, 3]).unwrap(),
            ),
            (
                "steps".into(),
                Tensor::from_i64(vec![i64::MAX], &[]).unwrap(),
            ),
            (
                "mask".into(),
                Tensor::from_bool(vec![true, false, true], &[3]).unwrap(),
            ),
            ("empty".into(), Tensor::from_f32(vec![], &[0, 4]).unwrap()),
        ]
    }

    #[test]
    fn round_trips_every_dtype_sorted_by_name() {
        let dir = TestDir::new();
        let path = dir.path().join("m.safetensors");
        let original = sample();
        save_safetensors(
            &original,
            &path,
            Some(HashMap::from([("format".into(), "pt".into())])),
        )
        .unwrap();
        let loaded = load_safetensors(&path).unwrap();
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["empty", "mask", "steps", "weight"]);
        for (name, t) in &loaded {
            let (_, want) = original.iter().find(|(n, _)| n == name).unwrap();
            assert_eq!(
                (t.shape(), t.dtype()),
                (want.shape(), want.dtype()),
                "{name}"
            );
            let (got, want) = (t.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
                "{name}"
            );
        }
        // A non-contiguous view is written in its logical (row-major) order.
        let t = Tensor::from_f32(vec![1., 2., 3., 4., 5., 6.], &[2, 3])
            .unwrap()
            .transpose(0, 1)
            .unwrap();
        save_safetensors(&[("t".into(), t)], &path, None).unwrap();
        assert_eq!(
            load_safetensors(&path).unwrap()[0].1.to_vec_f32().unwrap(),
            vec![1., 4., 2., 5., 3., 6.]
        );
    }

    #[test]
    fn file_problems_are_io_errors_that_name_the_file() {
        let dir = TestDir::new();
        let path = dir.path().join("m.safetensors");
        let err = load_safetensors(&path).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .starts_with(&format!("load: {}: ", path.display())),
            "{err}"
        );

        save_safetensors(&sample(), &path, None).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 5, 20, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = load_safetensors(&path).unwrap_err();
            assert_eq!(err.code(), "Io", "cut at {cut}");
            assert!(
                err.to_string().contains("not a valid safetensors file"),
                "{err}"
            );
        }
        std::fs::write(&path, b"this is not a safetensors file at all").unwrap();
        assert!(load_safetensors(&path)
            .unwrap_err()
            .to_string()
            .contains("m.safetensors: not a valid safetensors file"));
    }

    /// Raw bytes of one tensor as a file stores them.
    struct Raw(Dtype, Vec<usize>, Vec<u8>);

    impl View for &Raw {
        fn dtype(&self) -> Dtype {
            self.0
        }
        fn shape(&self) -> &[usize] {
            &self.1
        }
        fn data(&self) -> Cow<'_, [u8]> {
            Cow::Borrowed(&self.2)
        }
        fn data_len(&self) -> usize {
            self.2.len()
        }
    }

    fn load_raw(dir: &TestDir, raw: Raw) -> Result<Tensor> {
        let path = dir.path().join("raw.safetensors");
        std::fs::write(
            &path,
            ::safetensors::serialize([("fc.weight", &raw)], None).unwrap(),
        )
        .unwrap();
        load_safetensors(&path).map(|mut v| v.remove(0).1)
    }

    #[test]
    fn other_dtypes_convert_to_float32_or_int64() {
        let dir = TestDir::new();
        let halves = [1.0f32, -2.5, 65504.0, 6.0e-8].map(f16::from_f32);
        let t = load_raw(
            &dir,
            Raw(
                Dtype::F16,
                vec![4],
                halves.iter().flat_map(|h| h.to_le_bytes()).collect(),
            ),
        )
        .unwrap();
        assert_eq!(
            (t.dtype(), t.to_vec_f32().unwrap()),
            (DType::F32, halves.map(f16::to_f32).to_vec())
        );
        let doubles = [0.1f64, -1e300, 3.0];
        let t = load_raw(
            &dir,
            Raw(
                Dtype::F64,
                vec![3],
                doubles.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
        )
        .unwrap();
        assert_eq!(
            t.to_vec_f32().unwrap(),
            vec![0.1f32, f32::NEG_INFINITY, 3.0]
        );
        let t = load_raw(
            &dir,
            Raw(
                Dtype::I32,
                vec![2],
                [i32::MIN, 7].iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
        )
        .unwrap();
        assert_eq!(
            (t.dtype(), t.to_vec_f64().unwrap()),
            (DType::I64, vec![i32::MIN as f64, 7.0])
        );
        let t = load_raw(&dir, Raw(Dtype::I8, vec![2], vec![0xff, 5])).unwrap();
        assert_eq!(t.to_vec_f64().unwrap(), vec![-1.0, 5.0]);
        let t = load_raw(&dir, Raw(Dtype::U8, vec![2], vec![0xff, 5])).unwrap();
        assert_eq!(t.to_vec_f64().unwrap(), vec![255.0, 5.0]);
        let t = load_raw(&dir, Raw(Dtype::U64, vec![1], 1u64.to_le_bytes().to_vec())).unwrap();
        assert_eq!(t.to_vec_f64().unwrap(), vec![1.0]);
    }

    #[test]
    fn unsupported_dtypes_name_the_key_and_the_dtype() {
        let dir = TestDir::new();
        let err = load_raw(&dir, Raw(Dtype::F8_E4M3, vec![2], vec![0, 60])).unwrap_err();
        assert_eq!(err.code(), "Io");
        assert!(
            err.to_string()
                .contains("raw.safetensors: tensor 'fc.weight' has dtype F8_E4M3"),
            "{err}"
        );
        let err = load_raw(
            &dir,
            Raw(Dtype::U64, vec![1], u64::MAX.to_le_bytes().to_vec()),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("tensor 'fc.weight' has dtype U64 with values above int64's largest"),
            "{err}"
        );
    }

    #[test]
    fn a_dtype_changed_without_its_data_names_the_tensor_and_the_sizes() {
        let dir = TestDir::new();
        let path = dir.path().join("m.safetensors");
        save_safetensors(&sample(), &path, None).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        // The header keeps its length, and the data stays 6 float32s (24 bytes).
        let needle = b"\"weight\":{\"dtype\":\"F32";
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        bytes[at + needle.len() - 3..][..3].copy_from_slice(b"F64");
        std::fs::write(&path, &bytes).unwrap();
        for err in [
            load_safetensors(&path).unwrap_err(),
            load_safetensors_metadata(&path).unwrap_err(),
        ] {
            assert_eq!(err.code(), "Io");
            assert!(err.to_string().contains(&format!("{}: tensor 'weight' does not match its data: dtype F64 and shape [2, 3] take 48 bytes, but its data_offsets", path.display())), "{err}");
        }
    }

    #[test]
    fn the_metadata_key_cannot_name_a_tensor() {
        let dir = TestDir::new();
        let path = dir.path().join("m.safetensors");
        let t = Tensor::from_f32(vec![1.0], &[1]).unwrap();
        let err = save_safetensors(&[("__metadata__".into(), t)], &path, None).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert!(
            err.to_string()
                .contains("'__metadata__' cannot name a tensor"),
            "{err}"
        );
        assert!(dir.entries().is_empty());
    }

    #[test]
    fn duplicate_keys_are_refused_before_anything_is_written() {
        let dir = TestDir::new();
        let path = dir.path().join("m.safetensors");
        let t = Tensor::from_f32(vec![1.0], &[1]).unwrap();
        let err =
            save_safetensors(&[("a".into(), t.clone()), ("a".into(), t)], &path, None).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        assert!(dir.entries().is_empty());
    }
}
