"""PE701 pandas row loops."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, fixed_text


def test_iterrows_filling_a_column_and_apply_axis_1(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE701",
        """
        import pandas as pd


        def enrich(df: pd.DataFrame) -> pd.DataFrame:
            for i, row in df.iterrows():
                df.at[i, "total"] = row["price"] * row["qty"]
            df["net"] = df.apply(lambda r: r["total"] - r.discount, axis=1)
            df["label"] = df.apply(lambda r: describe(r), axis="columns")
            for row in df.itertuples():
                print(row)
            return df
        """,
        frameworks=("pandas",),
    )
    # Only what is provably column arithmetic: `describe(r)` and a loop that prints are per-row work.
    assert [f.data.get("iterator") or "apply" for f in findings] == ["iterrows", "apply"]
    assert findings[0].data["columns"] == ["total"]
    assert "'total'" in findings[0].detail
    assert "Instead: `df[\"total\"] = df['price'] * df['qty']`" in findings[0].detail
    vectorize = findings[1].fixes[0]
    assert not vectorize.safe
    assert 'df["net"] = df["total"] - df["discount"]\n' in fixed_text(findings[1])


def test_apply_on_columns_and_non_pandas_files_are_fine(tmp_path: Path) -> None:
    assert (
        check(
            tmp_path,
            "PE701",
            """
            import pandas as pd


            def f(df: pd.DataFrame) -> None:
                df["x"] = df["a"].apply(str.upper)
                df.apply(sum)
            """,
            frameworks=("pandas",),
        )
        == []
    )
    # In a pandas workspace, a file that does not import pandas is about something else.
    assert check(tmp_path, "PE701", "for k, v in table.iterrows():\n    pass\n", frameworks=("pandas",)) == []


def test_black_formatted_multiline_lambda_does_not_crash_and_its_fix_parses(tmp_path: Path) -> None:
    # Re-parsing the lambda body's text raised IndentationError on the indented continuation line.
    findings = check(
        tmp_path,
        "PE701",
        """
        import pandas as pd


        def enrich(df: pd.DataFrame) -> pd.DataFrame:
            df["total"] = df.apply(
                lambda r: r["price"]
                * r["qty"],
                axis=1,
            )
            df["label"] = df.apply(
                lambda row: describe(
                    row,
                ),
                axis=1,
            )
            return df
        """,
        frameworks=("pandas",),
    )
    assert len(findings) == 1  # the second lambda calls a function with the whole row: not reported
    assert findings[0].data["vectorized"] == '(df["price"]\n        * df["qty"])'
    assert "\n" not in findings[0].message
    assert 'df["total"] = (df["price"]\n        * df["qty"])\n' in fixed_text(findings[0])


def test_comprehensions_over_row_iterators_that_build_a_column(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE701",
        """
        import pandas as pd


        def enrich(df: pd.DataFrame) -> pd.DataFrame:
            df["x"] = [row["a"] * 2 for _, row in df.iterrows()]
            df["y"] = pd.Series([r.a for r in df.itertuples()])
            out = df.assign(z=[r.b for r in df.itertuples(index=False)])
            names = [row["name"] for _, row in df.iterrows()]  # a plain list: not a column
            send({r.id: r.email for r in df.itertuples()})
            return out
        """,
        frameworks=("pandas",),
    )
    assert [f.data["column"] for f in findings] == ['df["x"]', 'df["y"]', "df['z']"]
    assert [f.line for f in findings] == [4, 5, 6]


def test_row_loops_doing_per_row_work_are_not_reported(tmp_path: Path) -> None:
    # Measured on the corpus: most row loops call an API, build documents or parse JSON per row.
    findings = check(
        tmp_path,
        "PE701",
        """
        import pandas as pd


        def publish(df: pd.DataFrame) -> None:
            for _, row in df.iterrows():
                client.create_run(tags={"name": row["name"]})
            for i, row in df.iterrows():
                df.at[i, "doc"] = json.loads(row["raw"])
            df["ok"] = df.apply(lambda row: validate(row["payload"]), axis=1)
            df["msgs"] = [render(r) for r in df.itertuples()]
        """,
        frameworks=("pandas",),
    )
    assert findings == []
