"""sagan_tf: Self-Attention GAN in TensorFlow 2 / Keras 3. The package is declared here only.

Runtime dependencies carry the bounds that are tested: the versions pinned in requirements.txt
(what CI installs) are the lower bounds; the TensorFlow family, whose minor releases change APIs
this code uses, is bounded below its next minor release, the rest below their next major.
tests/test_install.py builds the wheel and installs it with these dependencies, constrained by
requirements.txt, into a fresh virtual environment, then trains and samples from outside the
checkout (what `pip install git+URL` gives a user).
"""

import setuptools

setuptools.setup(
    name="sagan_tf",
    version="0.1.0",
    description="Self-Attention GAN (SAGAN) in TensorFlow 2 / Keras 3 with tf.distribute.",
    packages=setuptools.find_packages(include=["sagan_tf", "sagan_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.21.0,<2.22",
        "tensorboard>=2.21.0,<2.22",  # tf.summary's implementation; TF 2.21 does not pull it in
        "keras>=3.15.1,<3.16",
        "tensorflow-datasets>=4.9.10,<4.10",
        "tensorflow-gan>=2.1.0,<2.2",  # the metrics' reference (sagan_tf/evaluation/tfgan.py)
        "tensorflow-probability>=0.25.0,<0.26",  # TF-GAN's dependency, pinned to TF 2.21's
        "tensorflow-hub>=0.16.1,<0.17",  # the Inception module (TF-Hub handle or local path)
        "tf-keras>=2.21.0,<2.22",  # tensorflow-hub's dependency, pinned to TF 2.21's
        "ml-collections>=1.1.0,<2",
        "absl-py>=2.5.1,<3",
        "numpy>=2.4.6,<3",
        "pillow>=13.0.0,<14",
    ],
    extras_require={
        "serving": ["tensorflow-serving-api>=2.21.0,<2.22"],  # the TF Serving warm-up file
        "test": ["pytest>=9.0.3,<10", "pytest-xdist>=3.8.0,<4", "scipy>=1.17.1,<2",
                 "import-linter>=2.17,<3"],
    },
    entry_points={"console_scripts": [
        "sagan-train=sagan_tf.cli.train:run",
        "sagan-evaluate=sagan_tf.cli.evaluate:run",
        "sagan-export=sagan_tf.cli.export:run",
        "sagan-sample=sagan_tf.cli.sample:run",
        "sagan-interpolate=sagan_tf.cli.interpolate:run",
        "sagan-visualize-attention=sagan_tf.cli.visualize_attention:run",
        "sagan-train-classifier=sagan_tf.cli.train_classifier:run",
        "sagan-prepare-tfrecords=sagan_tf.cli.prepare_tfrecords:run",
        "sagan-prepare-emoji=sagan_tf.cli.prepare_emoji:run",
        "sagan-benchmark=sagan_tf.cli.benchmark:run",
        "sagan-import-inception=sagan_tf.cli.import_inception:run",
    ]},
)
