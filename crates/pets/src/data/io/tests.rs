use std::io::Write;
use std::sync::Arc;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::{Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};

use super::*;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

#[test]
fn csv_streams_in_batches_of_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("a,b\n");
    for i in 0..10 {
        text.push_str(&format!("{i},x{i}\n"));
    }
    let p = write(&dir, "t.csv", &text);
    let opts = CsvReadOptions {
        batch_size: 4,
        ..Default::default()
    };
    let stream = read_csv(&p, &opts).unwrap();
    assert_eq!(stream.arrow_schema().field(0).data_type(), &DataType::Utf8);
    let batches = stream.collect_batches().unwrap();
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(),
        [4, 4, 2]
    );
    assert_eq!(batches[2].column(1).as_string::<i32>().value(1), "x9");
}

#[test]
fn csv_null_values_trim_and_comments() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "t.csv", "|comment line\n1, ?, a\n2, b , \n");
    let opts = CsvReadOptions {
        has_header: false,
        column_names: Some(vec!["n".into(), "x".into(), "y".into()]),
        null_values: vec!["".into(), "?".into()],
        trim: true,
        comment: Some(b'|'),
        ..Default::default()
    };
    let b = &read_csv(&p, &opts).unwrap().collect_batches().unwrap()[0];
    let x = b.column(1).as_string::<i32>();
    assert!(x.is_null(0));
    assert_eq!(x.value(1), "b");
    assert!(b.column(2).as_string::<i32>().is_null(1));
}

#[test]
fn csv_errors_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(&dir, "e.csv", "");
    assert!(matches!(
        read_csv(&empty, &Default::default()),
        Err(DataError::Empty { .. })
    ));
    let ragged = write(&dir, "r.csv", "a,b\n1,2\n3\n");
    let err = read_csv(&ragged, &Default::default())
        .unwrap()
        .collect_batches()
        .unwrap_err();
    assert!(matches!(err, DataError::Csv { .. }), "{err}");
    let dup = write(&dir, "d.csv", "a,a\n1,2\n");
    assert!(
        read_csv(&dup, &Default::default())
            .unwrap_err()
            .to_string()
            .contains("appears twice")
    );
    let missing = dir.path().join("nope.csv");
    assert!(matches!(
        read_csv(&missing, &Default::default()),
        Err(DataError::Io { .. })
    ));
    assert!(matches!(
        open_table(dir.path().join("x.xlsx"), 10),
        Err(DataError::UnknownFormat { .. })
    ));
}

fn sample_batch(offset: i64, n: usize) -> RecordBatch {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("s", DataType::Utf8, true),
    ]));
    let ids: Int64Array = (0..n as i64).map(|i| i + offset).collect();
    let s: StringArray = (0..n)
        .map(|i| (i % 3 != 0).then(|| format!("v{i}")))
        .collect();
    RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(s)]).unwrap()
}

#[test]
fn parquet_round_trip_across_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    let batches: Vec<_> = (0..5).map(|k| sample_batch(k * 1000, 1000)).collect();
    let mut sink = ParquetSink::create_with(
        &p,
        batches[0].schema(),
        ParquetWriteOptions {
            row_group_rows: 1500,
            ..Default::default()
        },
    )
    .unwrap();
    for b in &batches {
        sink.write(b).unwrap();
    }
    Box::new(sink).finish().unwrap();
    let stream = read_parquet(&p, 777).unwrap();
    assert_eq!(stream.rows_hint(), Some(5000));
    let back = stream.collect_batches().unwrap();
    let all = arrow_select::concat::concat_batches(&back[0].schema(), &back).unwrap();
    let orig = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(all, orig);
}

#[test]
fn empty_parquet_keeps_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("e.parquet");
    let sink = open_sink(&p, sample_batch(0, 1).schema()).unwrap();
    sink.finish().unwrap();
    let stream = read_parquet(&p, 10).unwrap();
    assert_eq!(stream.arrow_schema().fields().len(), 2);
    assert_eq!(
        stream
            .collect_batches()
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>(),
        0
    );
}

#[test]
fn csv_write_then_read_gives_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    let b = sample_batch(0, 10);
    let rows = write_table(&p, BatchStream::from_batches(b.schema(), vec![b.clone()])).unwrap();
    assert_eq!(rows, 10);
    let back = &open_table(&p, 100).unwrap().collect_batches().unwrap()[0];
    assert_eq!(back.column(0).as_string::<i32>().value(3), "3");
    assert!(back.column(1).is_null(3));
    assert_eq!(back.column(1).as_string::<i32>().value(4), "v4");
}

#[test]
fn readers_project_to_the_wanted_columns() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("t.parquet");
    let b = sample_batch(0, 100);
    let mut sink = ParquetSink::create(&pq, b.schema()).unwrap();
    sink.write(&b).unwrap();
    Box::new(sink).finish().unwrap();
    let csv = write(&dir, "t.csv", "a,b,c\n1,x,p\n2,y,q\n");
    let want = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();

    let s = open_table_columns(&pq, 64, Some(&want(&["s", "nope"]))).unwrap();
    assert_eq!(s.arrow_schema().fields().len(), 1);
    let back = s.collect_batches().unwrap();
    assert_eq!(back[0].schema().field(0).name(), "s");
    assert_eq!(back.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
    assert_eq!(
        back[0].column(0).as_ref(),
        b.column(1).slice(0, 64).as_ref()
    );

    // CSV keeps file order whatever the order asked for.
    let s = open_table_columns(&csv, 64, Some(&want(&["c", "a"]))).unwrap();
    let back = s.collect_batches().unwrap();
    let names: Vec<&str> = back[0]
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(back[0].column(1).as_string::<i32>().value(1), "q");
    assert_eq!(file_columns(&csv).unwrap(), ["a", "b", "c"]);
    assert_eq!(file_columns(&pq).unwrap(), ["id", "s"]);
}

mod encodings {
    use super::*;
    use crate::data::encode::EncodeOptions;
    use crate::data::schema::Schema;
    use crate::data::source::TableSource;

    const NAMES: [&str; 4] = ["José", "Zoë", "Ångström", "Françoise"];

    /// The same table as UTF-8 and as latin-1 bytes.
    fn files(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
        let mut text = String::from("name;ward\n");
        for (i, n) in NAMES.iter().enumerate() {
            text.push_str(&format!("{n};Pédiatrie {i}\n"));
        }
        let utf8 = write(dir, "utf8.csv", &text);
        let (latin1, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
        assert!(!unmappable);
        let p = dir.path().join("latin1.csv");
        std::fs::write(&p, &latin1).unwrap();
        (utf8, p)
    }

    fn text_table(path: &std::path::Path, dialect: &CsvDialect) -> Vec<RecordBatch> {
        open_table_with(path, 2, None, dialect, None)
            .unwrap()
            .collect_batches()
            .unwrap()
    }

    #[test]
    fn a_latin1_file_read_with_its_encoding_is_its_utf8_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (utf8, latin1) = files(&dir);
        let plain = text_table(&utf8, &CsvDialect::default());
        for label in ["latin-1", "iso-8859-1", "windows-1252", "LATIN1"] {
            let declared = CsvDialect {
                encoding: Some(label.into()),
                ..Default::default()
            };
            assert_eq!(text_table(&latin1, &declared), plain, "{label}");
        }
        // Through the schema's csv section and the encoder: the same codes.
        let schema = Schema::from_json(&format!(
            r#"{{"csv": {{"encoding": "latin-1"}}, "columns": [
                {{"name": "name", "kind": "categorical", "values": {:?}}},
                {{"name": "ward", "kind": "text"}}]}}"#,
            NAMES
        ))
        .unwrap();
        let encode = |p: &std::path::Path, s: &Schema| {
            TableSource::file(p)
                .encode(
                    s,
                    EncodeOptions::default(),
                    &[],
                    &crate::progress::Progress::none(),
                )
                .unwrap()
                .table
        };
        let from_latin1 = encode(&latin1, &schema);
        let mut utf8_schema = schema.clone();
        utf8_schema.csv = None;
        let from_utf8 = encode(&utf8, &utf8_schema);
        assert_eq!(from_latin1.columns()[0].codes, from_utf8.columns()[0].codes);
        assert_eq!(from_latin1.columns()[0].codes, [0, 1, 2, 3]);
        // The pinned dialect carries the encoding, so every later read decodes alike.
        let (pinned, _) = TableSource::file(&latin1).pinned(Some(&schema)).unwrap();
        let TableSource::File { csv, .. } = pinned else {
            unreachable!()
        };
        assert_eq!(csv.encoding.as_deref(), Some("windows-1252"));
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_saying_where_and_what_to_declare() {
        let dir = tempfile::tempdir().unwrap();
        let (_, latin1) = files(&dir);
        let e = open_table_with(&latin1, 2, None, &CsvDialect::default(), None).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(
                e,
                DataError::Encoding {
                    offset: 13,
                    line: 2,
                    byte: 0xE9,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(
            msg.contains("latin1.csv")
                && msg.contains("line 2")
                && msg.contains("offset 13")
                && msg.contains("--encoding latin-1")
                && msg.contains("\"encoding\": \"latin-1\"")
                && msg.contains("'é'"),
            "{msg}"
        );
        assert_eq!(
            crate::Classify::kind(&e),
            crate::ErrorKind::Parse,
            "an encoding error is a parse error"
        );
        // Past the sniffed sample: the streamed read fails with the same typed error.
        let mut text = String::from("name\n");
        for i in 0..20_000 {
            text.push_str(&format!("n{i}\n"));
        }
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"Jos\xE9\n");
        let p = dir.path().join("late.csv");
        std::fs::write(&p, &bytes).unwrap();
        let err = open_table_with(&p, 1000, None, &CsvDialect::default(), None)
            .unwrap()
            .collect_batches()
            .unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Encoding {
                    line: 20_002,
                    byte: 0xE9,
                    ..
                }
            ),
            "{err}"
        );
        // Declared UTF-8 is checked too.
        let utf8 = CsvDialect {
            encoding: Some("utf-8".into()),
            ..Default::default()
        };
        assert!(matches!(
            open_table_with(&latin1, 2, None, &utf8, None).unwrap_err(),
            DataError::Encoding { .. }
        ));
    }

    #[test]
    fn utf16_with_a_bom_is_read_and_announced_and_without_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (utf8, _) = files(&dir);
        let plain = text_table(&utf8, &CsvDialect::default());
        let text = std::fs::read_to_string(&utf8).unwrap();
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let with_bom = dir.path().join("bom.csv");
        std::fs::write(&with_bom, [&[0xFF, 0xFE][..], &le].concat()).unwrap();
        assert_eq!(text_table(&with_bom, &CsvDialect::default()), plain);
        let notes = dialect_notes(&with_bom, &CsvDialect::default(), None).unwrap();
        assert!(notes.iter().any(|n| n.contains("UTF-16LE")), "{notes:?}");
        // A UTF-8 BOM is not read as part of the first column's name.
        let p = dir.path().join("utf8bom.csv");
        std::fs::write(&p, [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat()).unwrap();
        assert_eq!(text_table(&p, &CsvDialect::default()), plain);
        // No BOM: refused with the NUL bytes named, unless declared.
        let no_bom = dir.path().join("nobom.csv");
        std::fs::write(&no_bom, &le).unwrap();
        let e = open_table_with(&no_bom, 2, None, &CsvDialect::default(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("UTF-16") && e.contains("--encoding utf-16le"),
            "{e}"
        );
        let declared = CsvDialect {
            encoding: Some("utf-16".into()),
            ..Default::default()
        };
        assert_eq!(text_table(&no_bom, &declared), plain);
        // Windows line ends in UTF-16: the same table.
        let crlf: Vec<u8> = text
            .replace('\n', "\r\n")
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let p = dir.path().join("crlf.csv");
        std::fs::write(&p, [&[0xFE, 0xFF][..], &crlf].concat()).unwrap();
        assert_eq!(text_table(&p, &CsvDialect::default()), plain);
    }

    #[test]
    fn an_unknown_encoding_is_an_invalid_argument() {
        let dir = tempfile::tempdir().unwrap();
        let (utf8, _) = files(&dir);
        let d = CsvDialect {
            encoding: Some("ebcdic-klingon".into()),
            ..Default::default()
        };
        let e = open_table_with(&utf8, 2, None, &d, None).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::InvalidArgument {
                    name: "encoding",
                    ..
                }
            ),
            "{e}"
        );
    }
}
