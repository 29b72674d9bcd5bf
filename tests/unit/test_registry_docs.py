"""The README's KPI table is generated from the registry and kept current."""
from pathlib import Path

from processors.docs import kpi_table
from processors.registry import KPIS, MEASURE_PLANS

ROOT = Path(__file__).resolve().parents[2]


def test_readme_kpi_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert kpi_table() in readme, "README KPI table is stale: run .venv/bin/python -m processors.docs --write"


def test_every_kpi_reads_measures_with_one_scope():
    assert len({k.id for k in KPIS}) == len(KPIS)
    for kpi in KPIS:
        for measure in kpi.measures:
            assert MEASURE_PLANS[measure].scope == kpi.scope
            assert set(kpi.dims) <= set(MEASURE_PLANS[measure].dims)
