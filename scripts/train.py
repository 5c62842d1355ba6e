"""Train a trajhmm classifier on a labelled folder with the Python API.

    python scripts/train.py DATA_DIR MODEL [--n-states N]

The same as ``trajhmm train``, written out as the few lines of Python it takes.
"""

import argparse

from sklearn.model_selection import train_test_split

import trajhmm


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir")
    p.add_argument("model")
    p.add_argument("--n-states", type=int, default=8)
    args = p.parse_args()

    data = trajhmm.load_trajectories(args.data_dir)
    X_train, X_test, y_train, y_test = train_test_split(
        data.trajectories, data.labels, test_size=0.25, stratify=data.labels, random_state=0
    )
    clf = trajhmm.HMMClassifier(n_states=args.n_states, random_state=0).fit(X_train, y_train)
    print(f"held-out accuracy: {clf.score(X_test, y_test):.4f} ({len(y_test)} trajectories)")
    trajhmm.save_model(clf, args.model)
    print(f"model written to {args.model}")


if __name__ == "__main__":
    main()
