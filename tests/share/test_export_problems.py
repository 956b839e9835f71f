"""Export and pictures report a damaged event file the way `explain` does, and
still show the run's other data and the other runs."""

import pytest
from support.written_runs import records
from support.written_runs import write_chunked_run

from epochjump import cli


def flip_a_byte_in_a_record(event_file):
    """Corrupts the 5th record's data (its checksum then fails)."""
    data = bytearray(event_file.read_bytes())
    offset, size = records(event_file)[4]
    data[offset + size // 2] ^= 0xFF
    event_file.write_bytes(bytes(data))
    return offset


@pytest.fixture
def damaged_logdir(tmp_path):
    logdir = tmp_path / "logs"
    write_chunked_run(logdir / "good")
    damaged = write_chunked_run(logdir / "damaged")
    offset = flip_a_byte_in_a_record(damaged)
    return logdir, f"{damaged.name}: corrupt record at byte {offset}"


def explain_problem_lines(logdir, capsys):
    assert cli.main(["explain", str(logdir)]) == 0
    out = capsys.readouterr().out
    return [line.strip() for line in out.splitlines() if "problem:" in line]


@pytest.mark.parametrize("extension", ["html", "png"])
def test_export_names_the_damaged_file_like_explain(
    damaged_logdir, tmp_path, capsys, extension
):
    logdir, expected = damaged_logdir
    (explained,) = explain_problem_lines(logdir, capsys)
    assert explained.startswith(f"problem: {expected}")

    output = tmp_path / f"r.{extension}"
    assert cli.main(["export", str(logdir), "-o", str(output)]) == 0
    captured = capsys.readouterr()
    assert output.stat().st_size > 0
    assert "2 run(s)" in captured.out  # The damaged run's readable data too.
    (line,) = [line for line in captured.err.splitlines() if "problem:" in line]
    assert line == f"epochjump: run damaged: {explained}"


def test_plot_names_the_damaged_file_on_stderr(damaged_logdir, capsys):
    import epochjump

    logdir, expected = damaged_logdir
    figure = epochjump.plot(str(logdir))
    assert len(figure.subfigs) == 2
    err = capsys.readouterr().err
    assert f"epochjump: run damaged: problem: {expected}" in err
