"""sagan_tf: Self-Attention GAN in TensorFlow 2 / Keras 3."""

import setuptools

setuptools.setup(
    name="sagan_tf",
    version="0.1.0",
    description="Self-Attention GAN (SAGAN) in TensorFlow 2 / Keras 3 with tf.distribute.",
    packages=setuptools.find_packages(include=["sagan_tf", "sagan_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16", "keras>=3.0", "tensorflow-datasets", "tensorflow-gan",
        "tensorflow-hub", "ml-collections", "absl-py", "numpy", "pillow",
    ],
    extras_require={"serving": ["tensorflow-serving-api"], "test": ["pytest", "pytest-xdist",
                                                                     "scipy", "import-linter"]},
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
