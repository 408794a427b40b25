"""DataSynthesizer's correlated attribute mode (PrivBayes, degree k) on A&E columns.

Fits DataSynthesizer 0.1.13 on the given columns of a generated A&E Parquet file, samples
as many rows and writes them as Parquet typed like the real file, so that
`pets synth evaluate REAL SAMPLE --schema ...` scores it with the same evaluator as pets'
own fits. Prints fit wall time and the network as JSON. DataSynthesizer reads CSV through
pandas, so every value is prefixed (``v_``) to keep it a string category and the prefix is
removed afterwards. It is epsilon-DP (Laplace noise), no delta.

    python datasynthesizer_peer.py ae10000.parquet 1.0 sample.parquet --k 2 \
        --columns age_band,sex,...
"""

import argparse
import json
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from DataSynthesizer.DataDescriber import DataDescriber
from DataSynthesizer.DataGenerator import DataGenerator

COLUMNS = (
    "age_band,sex,ethnic_category,imd_decile,provider_code,department_type,"
    "arrival_mode,attendance_category,acuity,diagnosis_group,admitted"
)


def main() -> None:
    """Fit, sample, write the typed sample and print the network."""
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("epsilon", type=float)
    ap.add_argument("out")
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--columns", default=COLUMNS)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cols = a.columns.split(",")
    real = pq.read_table(a.data, columns=cols)
    csv = a.out + ".in.csv"
    ("v_" + real.to_pandas().astype(str)).to_csv(csv, index=False)
    t = time.time()
    d = DataDescriber(category_threshold=5000)
    d.describe_dataset_in_correlated_attribute_mode(
        dataset_file=csv,
        epsilon=a.epsilon,
        k=a.k,
        attribute_to_datatype=dict.fromkeys(cols, "String"),
        attribute_to_is_categorical=dict.fromkeys(cols, True),
        attribute_to_is_candidate_key=dict.fromkeys(cols, False),
        seed=a.seed,
    )
    d.save_dataset_description_to_file(a.out + ".desc.json")
    fit = time.time() - t
    g = DataGenerator()
    g.generate_dataset_in_correlated_attribute_mode(real.num_rows, a.out + ".desc.json", seed=7)
    s = g.synthetic_dataset[cols]
    arrays = []
    for f in real.schema:
        col = s[f.name].astype(str).str.removeprefix("v_")
        col = col.where(~col.isin(["None", "nan", "NaN", "<NA>"]), None)
        if pa.types.is_boolean(f.type):
            arrays.append(pa.array(col.map({"True": True, "False": False})))
        elif pa.types.is_integer(f.type):
            num = pd.to_numeric(col, errors="coerce")
            arrays.append(pa.array(num, from_pandas=True).cast(f.type))
        else:
            arrays.append(pa.array(col).cast(f.type))
    pq.write_table(pa.Table.from_arrays(arrays, schema=real.schema), a.out)
    with open(a.out + ".desc.json") as fh:
        net = json.load(fh)["bayesian_network"]
    print(json.dumps({"fit_wall_s": round(fit, 1), "network": net}))


if __name__ == "__main__":
    main()
