#!/usr/bin/env python3
"""Time pyhf on a workspace the way shared/reference/pyhf/<case>.json's timings_s were taken
(numpy backend, iminuit MIGRAD with tolerance 1e-5 on twice_nll, HESSE after MIGRAD), for cases
without a published reference. Writes {"tool", "versions", "workspace", "bestfit", "timings_s"}.

    PYTHONPATH=/path/to/pyhf-0.7.6/src /usr/bin/python3 bench/pyhf-timings/measure.py \
        ../shared/workspaces/pyhf/atlas-ttZ-3l/workspace.json > bench/pyhf-timings/atlas-ttZ-3l.json

Needs pyhf 0.7.6, numpy, scipy and iminuit (Debian: python3-numpy python3-scipy python3-iminuit);
used only to produce the reference timing files, never by hs3fit or its tests.
"""
import json
import sys
import time

t0 = time.perf_counter()
import pyhf  # noqa: E402
t_import = time.perf_counter() - t0


def main():
    path = sys.argv[1]
    measurement = sys.argv[2] if len(sys.argv) > 2 else None
    t = time.perf_counter()
    with open(path) as f:
        spec = json.load(f)
    t_parse = time.perf_counter() - t
    t = time.perf_counter()
    ws = pyhf.Workspace(spec)
    t_validate = time.perf_counter() - t
    t = time.perf_counter()
    model = ws.model(measurement_name=measurement) if measurement else ws.model()
    t_model = time.perf_counter() - t
    t = time.perf_counter()
    data = ws.data(model)
    t_data = time.perf_counter() - t
    # shared/reference/pyhf's protocol: MIGRAD at tolerance 1e-5, and when it fails the fallback
    # tolerances 1e-3 and 0.1, then scipy; `fit` is the whole sequence (what a user waits for).
    attempts = []
    t = time.perf_counter()
    for tolerance in (1e-5, 1e-3, 0.1, "scipy"):
        if tolerance == "scipy":
            pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer())
        else:
            pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(tolerance=tolerance, errordef=1))
        ta = time.perf_counter()
        try:
            result, twice_nll = pyhf.infer.mle.fit(data, model, return_uncertainties=tolerance != "scipy",
                                                   return_fitted_val=True)
            attempts.append({"optimizer": str(tolerance), "converged": True, "seconds": time.perf_counter() - ta})
            break
        except Exception as e:  # pyhf.exceptions.FailedMinimization
            attempts.append({"optimizer": str(tolerance), "converged": False, "seconds": time.perf_counter() - ta,
                             "error": str(e)[:200]})
    else:
        twice_nll = float("nan")
    t_fit = time.perf_counter() - t
    import iminuit
    import numpy
    import scipy
    out = {
        "tool": "pyhf",
        "versions": {"pyhf": pyhf.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "iminuit": iminuit.__version__, "python": sys.version.split()[0]},
        "workspace": {"path": path, "measurement": measurement, "parameters": model.config.npars},
        "bestfit": {"twice_nll": float(twice_nll)},
        "fit_attempts": attempts,
        "timings_s": {"python_imports": t_import, "json_parse_and_patch": t_parse, "workspace_validate": t_validate,
                      "model_build": t_model, "data_build": t_data,
                      "load_total": t_parse + t_validate + t_model + t_data, "fit": t_fit},
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
