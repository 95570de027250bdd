"""galwidget.search: ids, id prefixes and sky positions → galaxies, checked against astropy on the
real coordinates of ../shared/data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given
from hypothesis import strategies as st

import galwidget as gw
from galwidget.search import MAX_QUERY_LENGTH, RADIUS_ARCSEC, Finder, parse_sky_position

GORDON = "gz_decals_nsa_name_radec_sample/gordon_galaxies_sample_2_unique.csv"
RINGS = "zoobot_ring_catalog_basic/example_ring_catalog_basic.csv"


def representations(
    ids: list[str] | pd.Index, meta: pd.DataFrame | None = None
) -> gw.Representations:
    return gw.Representations.from_array(np.zeros((len(ids), 1)), ids=list(ids), meta=meta)


@pytest.fixture(scope="module")
def gordon(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / GORDON, index_col=0)


@pytest.fixture(scope="module")
def by_number(gordon: pd.DataFrame) -> Finder:
    """The real galaxies with ra/dec columns and ids that are not IAU names."""
    ids = [f"gal{i:04d}" for i in range(len(gordon))]
    return Finder(representations(ids, gordon[["ra", "dec"]]))


# -- sky positions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "150.1 2.2",
        "150.1, +2.2",
        "  150.1d   2.2d ",
        "150.1°, 2.2°",
        "10:00:24 +02:12:00",
        "10:00:24.0, +02:12:00.0",
        "10 00 24 +02 12 00",
        "10h00m24s +2d12m",
        "10h00m24.000s +02d12m00s",
        "10h 00m 24s, +02° 12' 00\"",
        "J100024.00+021200.0",
    ],
)
def test_every_sky_format_reads_the_same_position(text: str) -> None:
    ra, dec = parse_sky_position(text)
    assert ra == pytest.approx(150.1, abs=1e-9) and dec == pytest.approx(2.2, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-00:30:00", None),  # one coordinate is not a position
        ("0 -0.5", (0.0, -0.5)),
        ("23:59:59.9 -00:30:00", (359.99958333333, -0.5)),
        ("0h0m0s −0d30m", (0.0, -0.5)),  # a typographic minus
        ("J235959.99-893000.0", (359.99995833333, -89.5)),
        ("24:00:00 +90:00:00", (0.0, 90.0)),  # what formatters write for 359.99999999…
        ("G0001", None),
        ("150.1", None),
    ],
)
def test_signs_edges_and_non_positions(text: str, expected: tuple[float, float] | None) -> None:
    found = parse_sky_position(text)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("360.5 0", "ra must be in \\[0, 360\\] degrees"),
        ("10 91", "dec in \\[-90, 90\\], got ra 10, dec 91"),
        ("24:00:01 +00:00:00", "ra must be in \\[0, 360\\]"),
        ("25:00:00 +00:00:00", "hours must be at most 24"),
        ("10:61:00 +00:00:00", "minutes and seconds below 60"),
        ("10h00m00s +10d00m60s", "minutes and seconds below 60"),
        ("J250000.00+100000.0", "malformed IAU names"),
    ],
)
def test_out_of_range_positions_are_refused(text: str, message: str) -> None:
    with pytest.raises(gw.DataError, match=message):
        parse_sky_position(text)


def test_astropy_formats_of_real_coordinates_parse_back(gordon: pd.DataFrame) -> None:
    coords = SkyCoord(gordon["ra"].to_numpy() * u.deg, gordon["dec"].to_numpy() * u.deg)
    for style in [{"sep": ":"}, {"sep": " "}, {}]:  # 00:04:10.46 / 00 04 10.46 / 00h04m10.46s
        texts = coords.to_string("hmsdms", precision=4, **style)
        parsed = np.array([parse_sky_position(t) for t in texts])
        back = SkyCoord(parsed[:, 0] * u.deg, parsed[:, 1] * u.deg)
        assert coords.separation(back).arcsec.max() < 2e-3, style
    decimal = np.array([parse_sky_position(t) for t in coords.to_string("decimal", precision=9)])
    np.testing.assert_allclose(decimal, gordon[["ra", "dec"]].to_numpy(), atol=1e-9)


def test_nearest_galaxy_and_separation_agree_with_astropy(
    by_number: Finder, gordon: pd.DataFrame
) -> None:
    catalogue = SkyCoord(gordon["ra"].to_numpy() * u.deg, gordon["dec"].to_numpy() * u.deg)
    rng = np.random.default_rng(0)
    ra = rng.uniform(0, 360, 60)
    dec = np.degrees(np.arcsin(rng.uniform(-0.2, 0.55, 60)))
    for r, d in zip(ra, dec, strict=True):
        separations = SkyCoord(r * u.deg, d * u.deg).separation(catalogue).arcsec
        found = by_number.find(f"{r:.10f} {d:+.10f}", radius_arcsec=math.inf)
        assert found.kind == "sky" and found.position == int(np.argmin(separations))
        assert found.id == f"gal{found.position:04d}"
        assert found.separation_arcsec == pytest.approx(separations.min(), rel=1e-9)
        assert (found.ra, found.dec) == pytest.approx((r, d))


def test_iau_names_find_their_own_galaxy(by_number: Finder, gordon: pd.DataFrame) -> None:
    """Each real galaxy's IAU name finds that galaxy, under an arcsecond away (as astropy says)."""
    ra, dec = gw.parse_iauname(gordon["sdss_id"])
    named = SkyCoord(ra * u.deg, dec * u.deg)
    actual = SkyCoord(gordon["ra"].to_numpy() * u.deg, gordon["dec"].to_numpy() * u.deg)
    expected = named.separation(actual).arcsec
    assert expected.max() < 1.0
    for position, name in list(enumerate(gordon["sdss_id"]))[::5]:
        found = by_number.find(name)
        assert found.kind == "sky" and found.position == position, name
        assert found.separation_arcsec == pytest.approx(expected[position], rel=1e-6, abs=1e-6)


def test_sky_positions_from_iau_ids_when_there_are_no_ra_dec_columns(shared_data: Path) -> None:
    rings = pd.read_csv(shared_data / RINGS)
    finder = Finder(representations(rings["id_str"]))
    name = rings["id_str"].iloc[17]
    assert finder.find(name).kind == "id"
    ra, dec = gw.parse_iauname(name)
    found = finder.find(f"{ra + 0.5 / 3600:.7f} {dec:+.7f}")  # 0.5 s of arc east in ra
    assert (found.kind, found.position, found.id) == ("sky", 17, name)
    assert found.separation_arcsec == pytest.approx(0.5 * np.cos(np.radians(dec)), rel=1e-3)


def test_data_without_sky_positions_says_so() -> None:
    finder = Finder(representations(["a1", "a2", "b1"]))
    with pytest.raises(gw.DataError, match="no 'ra'/'dec' columns and its ids are not IAU names"):
        finder.find("150.1 2.2")
    meta = pd.DataFrame({"ra": [np.nan] * 3, "dec": [1.0, 2.0, 3.0]})
    with pytest.raises(gw.DataError, match="no galaxy has a finite ra/dec"):
        Finder(representations(["a1", "a2", "b1"], meta)).find("10 10")


def test_galaxies_without_a_position_are_never_found() -> None:
    meta = pd.DataFrame({"ra": [10.0, np.nan, 10.2], "dec": [0.0, 5.0, 0.0]})
    finder = Finder(representations(["a", "b", "c"], meta))
    assert finder.find("10 5").id in {"a", "c"}
    assert finder.find("10.15 0").id == "c"


@given(
    ra=st.floats(0, 360, exclude_max=True, allow_nan=False),
    dec=st.floats(-90, 90, allow_nan=False),
)
def test_any_position_round_trips_through_sexagesimal(ra: float, dec: float) -> None:
    text = SkyCoord(ra * u.deg, dec * u.deg).to_string("hmsdms", sep=":", precision=6)
    parsed = parse_sky_position(text)
    assert parsed is not None
    back = SkyCoord(parsed[0] * u.deg, parsed[1] * u.deg)
    assert back.separation(SkyCoord(ra * u.deg, dec * u.deg)).arcsec < 1e-4


# -- ids and prefixes ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def desi_ids(shared_data: Path) -> pd.Index:
    frame = pd.read_parquet(
        shared_data / "galaxy_explorer_desi_50k_pca2/50k_pca_2n.parquet", columns=["id_str"]
    )
    return pd.Index(frame["id_str"])


def test_exact_ids_win_over_everything(gordon: pd.DataFrame) -> None:
    finder = Finder(representations(gordon["sdss_id"], gordon[["ra", "dec"]]))
    for position in [0, 500, len(gordon) - 1]:
        name = gordon["sdss_id"].iloc[position]
        found = finder.find(f"  {name} ")
        assert (found.kind, found.position, found.id) == ("id", position, name)
        assert found.separation_arcsec is None


def test_prefixes_list_sorted_completions_and_count_them(desi_ids: pd.Index) -> None:
    finder = Finder(representations(desi_ids))
    for prefix in ["1", "3399", str(desi_ids[123])[:6], str(desi_ids[0]) + "9"]:
        starting = np.sort(desi_ids[desi_ids.str.startswith(prefix)].to_numpy().astype(str))
        if len(starting) < 2:
            continue
        found = finder.find(prefix, completions=5)
        assert found.kind == "prefix" and found.position is None
        assert found.completions == tuple(starting[:5])
        assert found.n_completions == len(starting)
    assert finder.complete("", limit=3) == (
        tuple(np.sort(desi_ids.to_numpy().astype(str))[:3]),
        50_000,
    )
    exact = str(desi_ids[4321])
    assert finder.find(exact).position == 4321


def test_a_prefix_of_one_galaxy_finds_it() -> None:
    finder = Finder(representations(["NGC 1300", "NGC 1365", "M 31"]))
    found = finder.find("NGC 13")
    assert found.completions == ("NGC 1300", "NGC 1365") and found.position is None
    found = finder.find("NGC 130")
    assert (found.kind, found.position, found.id, found.n_completions) == (
        "prefix",
        0,
        "NGC 1300",
        1,
    )


def test_non_ascii_ids() -> None:
    finder = Finder(representations(["Ωmega-1", "Ωmega-2", "zeta", "Æther"]))
    assert finder.find("Ωmega-2").position == 1
    assert finder.complete("Ω") == (("Ωmega-1", "Ωmega-2"), 2)
    assert finder.find("Æ").id == "Æther"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "got empty text"),
        ("   ", "got empty text"),
        (
            "hello world",
            "no galaxy id is or starts with 'hello world', and it is not a sky position",
        ),
        (12, "find needs text"),
    ],
)
def test_unreadable_text_is_refused(text: object, message: str) -> None:
    finder = Finder(
        representations(["a1", "a2"], pd.DataFrame({"ra": [1.0, 2.0], "dec": [0.0, 0.0]}))
    )
    with pytest.raises(gw.DataError, match=message):
        finder.find(text)  # type: ignore[arg-type]
    with pytest.raises(gw.DataError, match="limit must be a non-negative integer"):
        finder.complete("a", limit=-1)


def test_prefix_bounds_at_the_longest_id() -> None:
    finder = Finder(representations(["ab", "abc", "abd", "b", "a~", "a\x7f"]))
    assert finder.complete("ab") == (("ab", "abc", "abd"), 3)
    assert finder.complete("abc") == (("abc",), 1)  # as long as the longest id
    assert finder.complete("abcd") == ((), 0)  # longer than every id
    assert finder.complete("a") == (("ab", "abc", "abd", "a~", "a\x7f"), 5)  # byte order
    assert finder.complete("", limit=2) == (("ab", "abc"), 6)
    assert finder.position_of("abcd") is None and finder.position_of("abd") == 2


# -- the search radius -----------------------------------------------------------------------------


def test_a_sky_position_finds_only_within_the_radius_and_names_the_nearest() -> None:
    meta = pd.DataFrame({"ra": [150.0, 150.1], "dec": [2.0, 2.0]})
    finder = Finder(representations(["a", "b"], meta))
    near = finder.find("150.1 2.0003")  # 1.08″
    assert (near.position, near.id, near.radius_arcsec) == (1, "b", RADIUS_ARCSEC)
    assert near.separation_arcsec == pytest.approx(1.08, rel=1e-3)
    far = finder.find("150.1 2.01")  # 36″ from b
    assert (far.kind, far.position, far.id) == ("sky", None, "b")
    assert far.separation_arcsec == pytest.approx(36.0, rel=1e-3)
    assert finder.find("150.1 2.01", radius_arcsec=40).position == 1
    assert finder.find("150.1 2.01", radius_arcsec=math.inf).position == 1
    for bad in [0, -1.0, math.nan, "5", True, None]:
        with pytest.raises(gw.DataError, match="radius_arcsec must be a positive number"):
            finder.find("150.1 2.01", radius_arcsec=bad)  # type: ignore[arg-type]


# -- long and spaced-out text ----------------------------------------------------------------------


def test_text_longer_than_the_limit_is_refused() -> None:
    finder = Finder(representations(["a1"], pd.DataFrame({"ra": [1.0], "dec": [0.0]})))
    text = "1" + " " * MAX_QUERY_LENGTH + "2"
    with pytest.raises(gw.DataError, match=f"at most {MAX_QUERY_LENGTH} characters .*got 202"):
        finder.find(text)
    with pytest.raises(gw.DataError, match=f"at most {MAX_QUERY_LENGTH} characters"):
        parse_sky_position(text)
    assert finder.find(" " * (MAX_QUERY_LENGTH - 4) + "1 0").position == 0  # at the limit


def test_the_search_box_has_the_same_length_limit() -> None:
    from galwidget import protocol

    assert protocol.MAX_QUERY_LENGTH == MAX_QUERY_LENGTH  # the box's limit comes from the protocol
    source = (Path(__file__).parents[1] / "js" / "src" / "search.ts").read_text()
    assert 'import { MAX_QUERY_LENGTH } from "./protocol.generated";' in source
    assert "this.input.maxLength = MAX_QUERY_LENGTH;" in source


SPACED = st.text(alphabet=" \t\n\u00a0\u2003", min_size=1, max_size=14)  # 12 runs: within the limit


@given(
    text=st.sampled_from(
        [
            "150.1 2.2",
            "150.1, +2.2",
            "150.1d -2.2d",
            "10:00:24 +02:12:00",
            "10 00 24.5 -02 12 00",
            "10h00m24s +2d12m",
            "10h 00m 24s, +02° 12' 00\"",
            "1 1 x",
            "1h 1",
            "10 00 ",
        ]
    ),
    runs=st.lists(SPACED, min_size=12, max_size=12),
)
def test_runs_of_whitespace_read_as_one_space(text: str, runs: list[str]) -> None:
    """The parser reads any run of whitespace as one space (which keeps every pattern linear: runs
    of spaces between fields made the sexagesimal pattern backtrack cubically)."""
    pieces = text.split(" ")
    spaced = pieces[0] + "".join(run + piece for run, piece in zip(runs, pieces[1:], strict=False))
    assert len(spaced) <= MAX_QUERY_LENGTH
    assert parse_sky_position(spaced) == parse_sky_position(text)
