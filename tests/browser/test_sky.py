"""``w.sky()`` in a real JupyterLab: the ipyaladin view beside the Explorer, linked both ways.

ipyaladin's front end imports aladin-lite from esm.sh at run time, which the tests cannot reach.
The npm package of the same version (a devDependency of ``js/package.json``, so ``npm ci`` brings
it) is served for that URL through Playwright's request routing, wrapped in a module that keeps a
reference to each Aladin view it creates (``window.aladinViews``) so that the test can read what
the sky shows: its catalogs' sources and its centre. Every other request leaving the machine is
aborted: the sky's image tiles do not load (a black sky), the overlay and the events do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect
from test_jupyterlab import BUNDLE, drag_lasso, lasso_polygon, page_positions

pytest_plugins = ["jupyterlab_harness"]
pytestmark = [pytest.mark.jupyterlab, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
ALADIN_PACKAGE = REPO / "js" / "node_modules" / "aladin-lite"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
OVERLAY = "galwidget selection"
N_GALAXIES = 400
# The galaxies lie in a 1° × 1° patch around (150°, 2°): all of them inside the sky's 2° view.
CENTRE = (150.0, 2.0)

CELLS = [
    f"""\
import numpy as np
import pandas as pd

import galwidget as gw

reps = gw.datasets.synthetic(n={N_GALAXIES}, seed=2)
features = pd.DataFrame(reps.features, columns=[f"feat_{{i}}" for i in range(reps.n_features)])
df = pd.concat([reps.meta.reset_index(drop=True), features], axis=1)
rng = np.random.default_rng(0)
df["ra"] = {CENTRE[0]} + rng.uniform(-0.5, 0.5, len(df))
df["dec"] = {CENTRE[1]} + rng.uniform(-0.5, 0.5, len(df))""",
    """\
w = gw.Explorer(df, k=6)
w""",
    """\
sky = w.sky(fov=2.0)
sky""",
]

# The aladin-lite module ipyaladin imports: the real one, keeping each view it makes.
WRAPPER = """\
import A from "{real}";
const create = A.aladin;
window.aladinViews = [];
A.aladin = function (div, options) {{
  const view = create(div, options);
  window.aladinViews.push(view);
  return view;
}};
export default A;
"""
# What the sky draws in its catalog ``name``: id and position of each source (null: no catalog).
SOURCES_JS = """window.skySources = (name) => {
  const view = window.aladinViews?.[0];
  const catalog = view?.view.catalogs.find((c) => c.name === name);
  if (!catalog) return null;
  return catalog.getSources().map((s) => ({ id: s.data.id, ra: s.ra, dec: s.dec }));
};"""


def esm_url() -> str:
    """The aladin-lite URL that ipyaladin's front end imports."""
    ipyaladin = pytest.importorskip("ipyaladin")
    bundle = (Path(ipyaladin.__file__).parent / "static" / "widget.js").read_text()
    urls = set(re.findall(r"https://esm\.sh/aladin-lite@[^\"']+", bundle))
    assert len(urls) == 1, f"ipyaladin's widget.js imports aladin-lite from {urls}"
    return urls.pop()


def route_aladin_lite(page, url: str) -> None:
    """Serve the npm aladin-lite package for ``url`` and abort every request to other hosts."""
    version = url.rsplit("@", 1)[1]
    manifest = ALADIN_PACKAGE / "package.json"
    if not manifest.is_file():
        pytest.skip(f"aladin-lite is not installed in {ALADIN_PACKAGE.parent}: run `npm ci` in js/")
    installed = json.loads(manifest.read_text())["version"]
    assert installed == version, (
        f"ipyaladin imports aladin-lite {version} but js/package.json has {installed}: "
        "pin the same version there"
    )
    real = f"{url}/dist/aladin.js"
    script = {"access-control-allow-origin": "*", "content-type": "text/javascript"}
    module = (ALADIN_PACKAGE / "dist" / "aladin.js").read_bytes()

    def serve(route) -> None:
        if route.request.url == url:
            route.fulfill(status=200, headers=script, body=WRAPPER.format(real=real))
        elif route.request.url == real:
            route.fulfill(status=200, headers=script, body=module)
        else:
            route.abort()

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), serve)
    page.add_init_script(SOURCES_JS)


def sky_sources(page) -> list[dict] | None:
    return page.evaluate("(name) => window.skySources(name)", OVERLAY)


def test_sky_view_linked_both_ways(open_notebook):
    if not BUNDLE.is_file():
        pytest.skip(f"front-end bundle not built ({BUNDLE}); run `make js`")
    url = esm_url()
    nb = open_notebook(
        "sky.ipynb", CELLS, viewport=(1400, 1400), on_page=lambda p: route_aladin_lite(p, url)
    )
    page, kernel = nb.page, nb.kernel
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    # anywidget gives a widget's module 2 s to initialize, after which the model's messages are
    # dropped; aladin-lite (2.6 MB, WebAssembly compiled by A.init) can take longer on a busy
    # machine. Load it once beforehand, as a browser that has it cached would.
    page.evaluate("(url) => import(url).then((module) => module.default.init)", url)
    nb.run_all()
    expect(page.locator(".galwidget")).to_have_attribute("data-state", "ready", timeout=60_000)
    kernel.wait_until("sky._is_loaded", timeout=60)
    page.wait_for_function("window.aladinViews?.length === 1", timeout=60_000)
    assert sky_sources(page) is None  # nothing selected, nothing drawn

    # Lasso galaxies on the map: the sky draws exactly them, where they are.
    canvas = page.locator(".galwidget .gw-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    layout = np.array(kernel.eval_json("np.frombuffer(w._points, np.float32).tolist()"))
    positions = page_positions(layout.reshape(-1, 2), box)
    centre = (box["x"] + 0.45 * box["width"], box["y"] + 0.5 * box["height"])
    polygon = lasso_polygon(positions, centre, 0.3 * box["height"])
    drag_lasso(page, polygon)
    kernel.wait_until("len(w.selection) > 10")
    selected = kernel.eval_json("sorted(w.selected_ids.tolist())")
    assert len(selected) < N_GALAXIES
    page.wait_for_function(
        "([name, n]) => window.skySources(name)?.length === n",
        arg=[OVERLAY, len(selected)],
        timeout=30_000,
    )
    sources = sky_sources(page)
    assert sorted(s["id"] for s in sources) == selected
    radec = kernel.eval_json(
        "df.set_index('iauname').loc[w.selected_ids, ['ra', 'dec']].to_dict('index')"
    )
    for source in sources:
        np.testing.assert_allclose(
            [source["ra"], source["dec"]], [radec[source["id"]]["ra"], radec[source["id"]]["dec"]]
        )
    # The sky opened on the galaxies' patch.
    ra, dec = page.evaluate("() => window.aladinViews[0].getRaDec()")
    assert abs(ra - CENTRE[0]) < 0.6 and abs(dec - CENTRE[1]) < 0.6

    # A click on a drawn galaxy in the sky focuses it in the Explorer.
    sky = page.locator(".aladin-widget")
    sky.scroll_into_view_if_needed()
    sky_box = sky.bounding_box()
    pixels = np.array(
        page.evaluate(
            "(sources) => sources.map((s) => window.aladinViews[0].world2pix(s.ra, s.dec))",
            sources,
        ),
        dtype=float,
    )
    gaps = np.hypot(*(pixels[:, None, :] - pixels[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    inner = ((pixels > 40) & (pixels < [sky_box["width"] - 40, sky_box["height"] - 40])).all(1)
    clicked = int(np.where(inner, gaps.min(axis=1), -1).argmax())
    ARTIFACTS.mkdir(exist_ok=True)
    sky.screenshot(path=str(ARTIFACTS / "sky_overlay.png"))
    page.mouse.click(sky_box["x"] + pixels[clicked, 0], sky_box["y"] + pixels[clicked, 1])
    kernel.wait_until(f"w.focused == {sources[clicked]['id']!r}")
    expect(page.locator(".galwidget .gw-panel-title")).to_have_text(
        f"Neighbors of {sources[clicked]['id']}"
    )

    # Focusing a galaxy in Python recentres the sky on it.
    target = kernel.eval_json("w.representations.ids[7]")
    where = kernel.eval_json(f"df.set_index('iauname').loc[{target!r}, ['ra', 'dec']].tolist()")
    kernel.execute(f"w.focus({target!r})")
    page.wait_for_function(
        """([ra, dec]) => {
          const [r, d] = window.aladinViews[0].getRaDec();
          return Math.abs(r - ra) < 1e-4 && Math.abs(d - dec) < 1e-4;
        }""",
        arg=where,
        timeout=30_000,
    )
    sky.screenshot(path=str(ARTIFACTS / "sky_recentred.png"))

    # Clearing the selection in Python removes the overlay from the sky.
    kernel.execute("w.select([])")
    page.wait_for_function("(name) => window.skySources(name) === null", arg=OVERLAY)
