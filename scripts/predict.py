"""Predict the class of trajectory files with a saved model, using the Python API.

    python scripts/predict.py MODEL PATH [PATH ...]
"""

import argparse

import trajhmm


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("paths", nargs="+")
    args = p.parse_args()

    clf = trajhmm.load_model(args.model)
    paths = trajhmm.list_trajectory_files(args.paths)
    trajectories = [trajhmm.read_trajectory(p) for p in paths]
    proba = clf.predict_proba(trajectories)
    for path, row in zip(paths, proba):
        print(f"{path}\t{clf.classes_[row.argmax()]}\t{row.max():.3f}")


if __name__ == "__main__":
    main()
