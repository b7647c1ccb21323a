"""Clearing numba's cached kernels when a kernel source file changes."""

from kvbook._kernel_cache import refresh_kernel_cache


def make_package(root):
    (root / "algorithms" / "__pycache__").mkdir(parents=True)
    (root / "__pycache__").mkdir()
    (root / "_sim.py").write_text("def step(): return 1\n")
    (root / "algorithms" / "gsa.py").write_text("def gsa(): return 2\n")
    cached = root / "algorithms" / "__pycache__" / "gsa.gsa-1.py311.nbi"
    cached.write_bytes(b"index")
    return cached


def test_cache_cleared_on_first_run(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    cached = make_package(tmp_path)
    assert refresh_kernel_cache(tmp_path)
    assert not cached.exists()


def test_cache_kept_when_sources_unchanged(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    make_package(tmp_path)
    refresh_kernel_cache(tmp_path)
    kept = tmp_path / "__pycache__" / "_sim.step-1.py311.nbc"
    kept.write_bytes(b"data")
    assert not refresh_kernel_cache(tmp_path)
    assert kept.exists()


def test_cache_cleared_when_helper_changes(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    make_package(tmp_path)
    refresh_kernel_cache(tmp_path)
    # gsa.py is unchanged, but the simulator it calls is edited.
    cached = tmp_path / "algorithms" / "__pycache__" / "gsa.gsa-1.py311.nbi"
    cached.write_bytes(b"index")
    (tmp_path / "_sim.py").write_text("def step(): return 3\n")
    assert refresh_kernel_cache(tmp_path)
    assert not cached.exists()


def test_custom_cache_dir_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    cached = make_package(tmp_path)
    assert not refresh_kernel_cache(tmp_path)
    assert cached.exists()
