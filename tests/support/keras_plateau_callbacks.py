"""Keras's own ReduceLROnPlateau and EarlyStopping callbacks on crafted val_loss sequences, for
tests/lr_plateau_test.cpp. One case per stdin line:

  plateau PATIENCE COOLDOWN MIN_DELTA FACTOR MIN_LR LR LOSS...  ->  the rate after each epoch
  early PATIENCE MIN_DELTA LOSS...                              ->  the 1-based epoch training
                                                                    stops after (0: none), and
                                                                    the best epoch (1-based)

printed one line per case, values by repr."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import keras  # noqa: E402


def model_with_rate(learning_rate):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def plateau(patience, cooldown, min_delta, factor, min_lr, learning_rate, losses):
    model = model_with_rate(learning_rate)
    callback = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", mode="min", factor=factor, patience=patience, cooldown=cooldown,
        min_delta=min_delta, min_lr=min_lr)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"val_loss": loss})
        rates.append(repr(float(np.asarray(model.optimizer.learning_rate))))
    return rates


def early(patience, min_delta, losses):
    model = model_with_rate(0.01)
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=patience,
                                             min_delta=min_delta)
    callback.set_model(model)
    callback.on_train_begin()
    stopped = 0
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            stopped = epoch + 1
            break
    return [str(stopped), str(callback.best_epoch + 1)]


for line in sys.stdin:
    fields = line.split()
    if not fields:
        continue
    if fields[0] == "plateau":
        patience, cooldown = int(fields[1]), int(fields[2])
        min_delta, factor, min_lr, learning_rate = (float(f) for f in fields[3:7])
        print(*plateau(patience, cooldown, min_delta, factor, min_lr, learning_rate,
                       [float(f) for f in fields[7:]]))
    else:
        print(*early(int(fields[1]), float(fields[2]), [float(f) for f in fields[3:]]))
    sys.stdout.flush()
