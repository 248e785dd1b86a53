import numpy as np
import pytest

from redenvelope.core.bulk import execute, is_postgres, read_columns, read_packed, temp_table


@pytest.mark.django_db
def test_read_packed_gives_what_read_columns_gives():
    rng = np.random.default_rng(5)
    n = 20_000
    cols = {
        "a": np.sort(rng.integers(0, 10_000_000_000, n)),
        "b": rng.integers(-(2**31), 2**31 - 1, n),
        "c": rng.integers(-30_000, 30_000, n),
    }
    temp_table("re_t", "a bigint, b integer, c smallint", cols)
    spec = [("a", "int64"), ("b", "int32"), ("c", "int16")]
    sql = "SELECT a, b, c FROM re_t"
    packed = read_packed(sql, spec, chunk=1_000_000)
    plain = read_columns(sql + " ORDER BY a, b, c", spec)
    order = np.lexsort((packed["c"], packed["b"], packed["a"]))
    for name, _ in spec:
        assert packed[name].dtype == plain[name].dtype
        assert np.array_equal(packed[name][order], plain[name])
    # Groups come back in first-column order.
    assert np.all(np.diff(packed["a"] // 1_000_000) >= 0)


@pytest.mark.django_db
def test_read_packed_refuses_nulls():
    temp_table("re_n", "a bigint, b integer", [(1, 2), (3, None)])
    if not is_postgres():
        pytest.skip("the packed read is PostgreSQL's; elsewhere it is read_columns")
    with pytest.raises(ValueError, match="NULL"):
        read_packed("SELECT a, b FROM re_n", [("a", "int64"), ("b", "int32")])
    execute("DROP TABLE re_n")
