"""Three steps of Keras's own optimizers on one weight (start 1.0, gradients 0.5, -0.25, 1.0),
printed as `name w1 w2 w3` (float32 values, repr), for tests/keras_optimizers_python_test.cpp."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402

GRADIENTS = [0.5, -0.25, 1.0]
OPTIMIZERS = {
    "sgd": lambda: keras.optimizers.SGD(0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "rmsprop_momentum": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5),
    "adamw": lambda: keras.optimizers.AdamW(1e-3),
}

for name, make in OPTIMIZERS.items():
    optimizer = make()
    weight = keras.Variable(np.array([1.0], dtype="float32"))
    values = []
    for gradient in GRADIENTS:
        optimizer.apply_gradients([(np.array([gradient], dtype="float32"), weight)])
        values.append(repr(float(np.asarray(weight)[0])))
    print(name, *values)
