//! The data layer: declared schemas, file I/O, and encoding of columns to dense `u32` codes.
//!
//! Data flows `read -> schema -> encode -> compute -> decode`:
//! - [`io`] streams CSV and Parquet files in Arrow record batches and writes them back;
//! - [`schema`] is the public, declared description of each column ([`infer`] guesses one);
//! - [`encode`] turns batches into one contiguous `Vec<u32>` of codes per column
//!   ([`EncodedTable`]), the representation everything downstream computes on;
//! - [`decode`] turns codes back into Arrow arrays of the original types.

pub mod decode;
pub mod encode;
pub mod error;
pub mod infer;
pub mod io;
pub mod schema;
pub mod source;
pub mod summary;
pub mod tabulate;
pub(crate) mod values;

pub use decode::{BinPlacement, DecodeOptions, Decoder};
pub use encode::{
    CodeBook, EncodeOptions, EncodeReport, EncodedColumn, EncodedTable, Encoder, OutOfDomain,
    encode_batches, encode_file, encode_stream,
};
pub use error::{DataError, Result};
pub use infer::{InferOptions, SchemaInferrer, infer_schema};
pub use io::CsvDialect;
pub use schema::{
    Binning, ColumnKind, ColumnSpec, DateGranularity, HierarchySpec, Role, Schema, TimeGranularity,
};
pub use source::{Encoded, TableSource};
pub use summary::{ColumnSummary, TableSummary};
