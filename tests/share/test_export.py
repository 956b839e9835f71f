"""`epochjump export` and `epochjump.plot` on runs written by a real `model.fit`.

Two Keras runs on scikit-learn's digits (batch 16 with dropout, batch 64
without), plus a run written with `Writer` whose name holds `</script>`.
The HTML report must embed exactly the plugin's answers and nothing that can
end its script elements; pictures must have the documented size and show
the charts. The report in a browser is tested in tests/browser/.
"""

import html.parser
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from support import plugin_client
from tensorboard import context

import epochjump
from epochjump import cli
from epochjump.analysis.jumps import explained
from epochjump.read.logdir import Logdir
from epochjump.share import html_report
from epochjump.share import panels
from epochjump.share import plotting

HOSTILE_RUN = "x</script><script>window.__pwned=1</script><!--"
EPOCHS = 2


def fit_digits(run_dir, batch_size, dropout):
    """A real `model.fit` with `EpochJumpCallback`: 2 epochs on digits."""
    import keras
    from sklearn.datasets import load_digits
    from support.keras_fits import dense_model

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    model = dense_model(
        dropout=dropout, hidden_units=64, optimizer=keras.optimizers.Adam(1e-3)
    )
    model.fit(
        x[:1024],
        y[:1024],
        batch_size=batch_size,
        epochs=EPOCHS,
        validation_data=(x[1400:], y[1400:]),
        callbacks=[
            epochjump.EpochJumpCallback(run_dir, train_eval_data=(x[:256], y[:256]))
        ],
        verbose=0,
    )


def write_hostile_run(run_dir):
    with epochjump.Writer(run_dir) as writer:
        step = 0
        for epoch in range(EPOCHS):
            writer.start_epoch(step + 1)
            for i in range(6):
                step += 1
                writer.log_batch(step, {"loss": 1.0 / (1 + epoch + i / 6)})
            writer.log_eval("val", step, {"loss": 0.5 / (1 + epoch)})


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_logs")
    fit_digits(root / "bs16_dropout", batch_size=16, dropout=0.5)
    fit_digits(root / "bs64", batch_size=64, dropout=0.0)
    # "/" splits a path, so the run's name spans three directories.
    write_hostile_run(root.joinpath(*HOSTILE_RUN.split("/")))
    return root


@pytest.fixture(scope="module")
def local(logdir):
    return Logdir(logdir)


class ScriptReader(html.parser.HTMLParser):
    """The page's elements and each script's attributes and text."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.scripts = []
        self._in_script = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = (dict(attrs), [])

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script[1].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append((self._in_script[0], "".join(self._in_script[1])))
            self._in_script = None


def read_page(path):
    text = path.read_text(encoding="utf-8")
    page = ScriptReader()
    page.feed(text)
    return text, page


def embedded_data(page):
    (data,) = [
        body for attrs, body in page.scripts if attrs.get("id") == "epochjump-data"
    ]
    return json.loads(data)


def cleansed(answer):
    """An answer as the routes send it: JSON with non-finite floats as strings."""
    return json.loads(html_report.embed_json(answer).replace("\\u0026", "&"))


def test_html_report_embeds_the_plugins_answers(logdir, local, tmp_path):
    output = tmp_path / "report.html"
    assert cli.main(["export", str(logdir), "-o", str(output)]) == 0
    text, page = read_page(output)
    data = embedded_data(page)
    names = ["bs16_dropout", "bs64", HOSTILE_RUN]
    assert [r["run"] for r in data["runs"]["runs"]] == names
    assert data["format"] == html_report.REPORT_FORMAT
    assert data["source"] == logdir.name

    _, provider = plugin_client.local_provider(logdir)
    plugin = plugin_client.load_plugin(provider)
    ctx, experiment = context.RequestContext(), ""
    expected_series, expected_jumps = [], []
    for run in names:
        for metric in local.load(run).metrics:
            expected_series.append(
                plugin.series_impl(ctx, experiment, run, metric, max_points=5000)
            )
            expected_jumps.append(plugin.jumps_impl(ctx, experiment, run, metric))
    assert data["series"] == cleansed(expected_series)
    assert data["jumps"] == cleansed(expected_jumps)
    # Keras batches at full resolution: 1024 samples in batches of 16 and 64.
    batches = {(s["run"], s["metric"]): s for s in data["series"]}
    assert len(batches[("bs16_dropout", "accuracy")]["batches"]["step"]) == 128
    assert len(batches[("bs64", "accuracy")]["batches"]["step"]) == 32
    assert not batches[("bs16_dropout", "accuracy")]["downsampled"]
    assert [c["metric"] for c in data["compare"]] == ["loss", "accuracy"]
    assert data["compare"][1] == cleansed(
        plugin.compare_impl(ctx, experiment, ["bs16_dropout", "bs64"], "accuracy")
    )

    # Everything is inline: the bundle itself, and no element loads anything.
    bundle = html_report.read_bundle()
    (module,) = [body for attrs, body in page.scripts if attrs.get("type") == "module"]
    assert module.strip() == html_report.embed_script(bundle).strip()
    for tag, attrs in page.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed"), tag
        assert not {"src", "href", "srcset", "data"} & set(attrs), (tag, attrs)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "http://" not in text and "https://" not in text


def test_hostile_run_name_cannot_end_the_script(logdir, tmp_path):
    output = tmp_path / "report.html"
    assert cli.main(["export", str(logdir), "-o", str(output), "--run", "^x<"]) == 0
    text, page = read_page(output)
    # Two scripts, each closed once: the name never closes one early.
    assert text.lower().count("</script") == 2
    assert text.count("<!--") == 0
    assert [attrs.get("type") for attrs, _ in page.scripts] == [
        "application/json",
        "module",
    ]
    assert HOSTILE_RUN not in text
    assert "\\u003c/script\\u003e" in text
    data = embedded_data(page)
    assert [r["run"] for r in data["runs"]["runs"]] == [HOSTILE_RUN]
    assert data["series"][0]["run"] == HOSTILE_RUN
    assert "<title>Epoch jumps: x&lt;/script&gt;&lt;script&gt;" in text


def test_embedded_script_escapes_what_ends_a_script():
    code = 'const a = "</script>", b = /<!--/u, c = `</SCRIPT `;'
    escaped = html_report.embed_script(code)
    assert escaped == 'const a = "\\x3C/script>", b = /\\x3C!--/u, c = `\\x3C/SCRIPT `;'
    assert html_report.embed_json({"run": "</script>&\u2028"}) == (
        '{"run": "\\u003c/script\\u003e\\u0026\\u2028"}'
    )
    assert html_report.embed_json({"v": [float("nan"), float("inf")]}) == (
        '{"v": ["NaN", "Infinity"]}'
    )


def test_html_report_of_chosen_runs_and_metrics(logdir, tmp_path):
    output = tmp_path / "bs64.html"
    argv = ["export", str(logdir), "-o", str(output), "--run", "bs64"]
    assert cli.main([*argv, "--metric", "accuracy", "--max-points", "10"]) == 0
    data = embedded_data(read_page(output)[1])
    assert data["runs"]["runs"][0]["run"] == "bs64"
    assert data["runs"]["runs"][0]["metrics"] == ["accuracy"]
    assert [(s["run"], s["metric"]) for s in data["series"]] == [("bs64", "accuracy")]
    (series,) = data["series"]
    assert series["downsampled"] and series["total_batches"] == 32
    # Downsampling keeps the first and last batch of each epoch.
    assert {1, 16, 17, 32} <= set(series["batches"]["step"])
    assert [r["run"] for r in data["compare"][0]["runs"]] == ["bs64"]


def pixels_near(image, hex_color, tolerance=40):
    target = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)])
    distance = np.abs(image[..., :3].astype(int) - target).sum(axis=-1)
    return int((distance <= tolerance).sum())


def test_png_has_the_expected_size_and_shows_the_chart(logdir, tmp_path):
    from PIL import Image

    output = tmp_path / "chart.png"
    run_dir = logdir / "bs16_dropout"
    argv = ["export", str(run_dir), "-o", str(output), "--metric", "accuracy"]
    assert cli.main([*argv, "--dpi", "100"]) == 0
    with Image.open(output) as image:
        assert image.format == "PNG"
        # One panel: PANEL_WIDTH x (PANEL_HEIGHT + LEGEND_HEIGHT) inches.
        height = plotting.PANEL_HEIGHT + plotting.LEGEND_HEIGHT
        assert image.size == (round(plotting.PANEL_WIDTH * 100), round(height * 100))
        pixels = np.asarray(image.convert("RGB"))
    not_white = (pixels < 245).any(axis=-1).mean()
    assert 0.05 < not_white < 0.6, not_white
    # The run's colour (running mean), the jump bracket, the val rings.
    assert pixels_near(pixels, panels.RUN_COLORS[0]) > 500
    assert pixels_near(pixels, panels.BRACKET) > 50
    assert pixels_near(pixels, panels.VAL) > 20


def test_svg_is_xml_with_the_charts_elements(logdir, local, tmp_path):
    output = tmp_path / "chart.svg"
    assert cli.main(["export", str(logdir), "-o", str(output), "--run", "^bs"]) == 0
    root = ET.parse(output).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    # Two runs (rows) x two metrics (columns), in points (72 per inch).
    width = 2 * plotting.PANEL_WIDTH
    height = 2 * plotting.PANEL_HEIGHT + plotting.LEGEND_HEIGHT
    assert root.get("width") == f"{width * 72:g}pt"
    assert root.get("height") == f"{height * 72:g}pt"
    assert len(root.findall(f".//{ns}path")) > 100
    texts = ["".join(t.itertext()) for t in root.iter(f"{ns}text")]
    for run in ("bs16_dropout", "bs64"):
        for metric in ("loss", "accuracy"):
            assert f"{metric} · {run}" in texts
    # The caption is the answer `explain` prints first, with the jump's number.
    explanation = explained(local.load("bs64"), "accuracy")
    (jump,) = explanation.jumps
    caption = panels.caption(explanation)
    assert caption.splitlines()[0].startswith(
        f"accuracy {jump.reported:.4f} is the average over epoch 1;"
    )
    assert f"a jump of {jump.jump:+.4f}" in " ".join(caption.split())
    assert caption.splitlines()[0] in texts, texts
    assert " epoch 2" in texts


def test_plot_returns_a_figure_for_notebooks(logdir):
    figure = epochjump.plot(logdir, metric="accuracy", run="^bs")
    assert [ax.get_ylabel() for ax in figure.axes] == ["accuracy", "accuracy"]
    png = figure._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    # Not registered with pyplot, so Jupyter shows it once, as the cell's value.
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []
    run = epochjump.read_run(logdir / "bs64")
    figure = epochjump.plot(run, x="step")
    assert len(figure.axes) == len(run.metrics)
    with pytest.raises(ValueError, match="'f1'"):
        epochjump.plot(run, metric="f1")
    with pytest.raises(ValueError, match="x='time'"):
        epochjump.plot(run, x="time")


def test_import_epochjump_leaves_matplotlib_alone():
    code = (
        "import sys, epochjump; plot = epochjump.plot; "
        "assert callable(plot) and 'matplotlib' not in sys.modules, sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_pictures_without_matplotlib_say_what_to_install(logdir, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'epochjump\[plot\]'"):
        epochjump.plot(logdir / "bs64")
    with pytest.raises(SystemExit, match=r"epochjump\[plot\]"):
        cli.main(["export", str(logdir / "bs64"), "-o", str(tmp_path / "a.png")])


@pytest.mark.parametrize(
    "args, message",
    [
        (["-o", "{tmp}/report.pdf"], "got '{tmp}/report.pdf'"),
        (["-o", "{tmp}/report"], "expected a file name ending in .html, .png or .svg"),
        (["-o", "{tmp}/r.html", "--metric", "f1"], "No metric 'f1' in the runs"),
        (["-o", "{tmp}/r.html", "--run", "nomatch"], "matching 'nomatch'"),
        (["-o", "{tmp}/r.html", "--run", "("], "Bad run pattern"),
        (["-o", "{tmp}/r.html", "--max-points", "1"], "Bad max_points"),
        (["-o", "{tmp}/r.png", "--dpi", "0"], "Bad dpi: expected an integer"),
    ],
)
def test_cli_export_errors_name_the_bad_value(logdir, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    assert cli.main(["export", str(logdir), *args]) == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err
    assert not [p for p in os.listdir(tmp_path) if p.startswith("r")]
