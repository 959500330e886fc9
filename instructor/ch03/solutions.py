"""Reference solutions and plausible wrong answers for chapter 3's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
the wrong answers the checks must reject, code the chapter shows on purpose), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

# Code the book shows on purpose, which a solution may repeat: the leak scan ignores it. AMSGrad
# extends Adam, whose moments and bias correction chapter 4 writes from scratch (adamw_steps) and
# course_utils.optimizers.AdamW implements; what the exercise adds (the running maximum) is not shown.


RMSPROP_MOMENTUM = Answers(
    solution='''
def rmsprop_momentum(w0, gradients, learning_rate=0.001, rho=0.9, momentum=0.0,
                     epsilon=1e-7, centered=False):
    weights = np.array(w0, dtype=float)
    mean_square = np.zeros_like(weights)
    mean_grad = np.zeros_like(weights)
    moving = np.zeros_like(weights)
    history = []
    for grad in gradients:
        grad = np.asarray(grad, dtype=float)
        mean_square = rho * mean_square + (1 - rho) * grad * grad
        scale = mean_square + epsilon
        if centered:
            mean_grad = rho * mean_grad + (1 - rho) * grad
            scale = scale - mean_grad * mean_grad
        step = learning_rate * grad / np.sqrt(scale)
        if momentum > 0:
            moving = momentum * moving + step
            step = moving
        weights = weights - step
        history.append(weights.copy())
    return np.array(history)
''',
    wrong=[
        (
            "calls keras.optimizers.RMSprop",
            '''
def rmsprop_momentum(w0, gradients, learning_rate=0.001, rho=0.9, momentum=0.0,
                     epsilon=1e-7, centered=False):
    v = keras.Variable(np.array(w0, dtype="float64"))
    opt = keras.optimizers.RMSprop(learning_rate, rho=rho, momentum=momentum, epsilon=epsilon,
                                   centered=centered)
    out = []
    for g in gradients:
        opt.apply([keras.ops.convert_to_tensor(np.asarray(g, dtype="float64"))], [v])
        out.append(v.numpy().copy())
    return np.array(out)
''',
        ),
        (
            "epsilon added outside the square root",
            '''
def rmsprop_momentum(w0, gradients, learning_rate=0.001, rho=0.9, momentum=0.0,
                     epsilon=1e-7, centered=False):
    w = np.array(w0, dtype=float); ms = np.zeros_like(w); mg = np.zeros_like(w); mom = np.zeros_like(w)
    out = []
    for g in gradients:
        ms = rho * ms + (1 - rho) * g**2
        var = ms
        if centered:
            mg = rho * mg + (1 - rho) * g
            var = ms - mg**2
        step = learning_rate * g / (np.sqrt(var) + epsilon)
        if momentum > 0:
            mom = momentum * mom + step
            step = mom
        w = w - step
        out.append(w.copy())
    return np.array(out)
''',
        ),
        (
            "ignores centered",
            '''
def rmsprop_momentum(w0, gradients, learning_rate=0.001, rho=0.9, momentum=0.0,
                     epsilon=1e-7, centered=False):
    w = np.array(w0, dtype=float); ms = np.zeros_like(w); mom = np.zeros_like(w)
    out = []
    for g in gradients:
        ms = rho * ms + (1 - rho) * g**2
        step = learning_rate * g / np.sqrt(ms + epsilon)
        if momentum > 0:
            mom = momentum * mom + step
            step = mom
        w = w - step
        out.append(w.copy())
    return np.array(out)
''',
        ),
        (
            "momentum on the raw gradient, scaled afterwards",
            '''
def rmsprop_momentum(w0, gradients, learning_rate=0.001, rho=0.9, momentum=0.0,
                     epsilon=1e-7, centered=False):
    w = np.array(w0, dtype=float); ms = np.zeros_like(w); mg = np.zeros_like(w); mom = np.zeros_like(w)
    out = []
    for g in gradients:
        ms = rho * ms + (1 - rho) * g**2
        var = ms + epsilon
        if centered:
            mg = rho * mg + (1 - rho) * g
            var = var - mg**2
        mom = momentum * mom + g
        w = w - learning_rate * mom / np.sqrt(var)
        out.append(w.copy())
    return np.array(out)
''',
        ),
    ],
    taught=["m = beta_1 * m + (1 - beta_1) * g"],
)


AMSGRAD = Answers(
    solution='''
def amsgrad(w0, gradients, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    weights = np.array(w0, dtype=float)
    first = np.zeros_like(weights)
    second = np.zeros_like(weights)
    largest = np.zeros_like(weights)
    history = []
    for t, grad in enumerate(gradients, start=1):
        grad = np.asarray(grad, dtype=float)
        first = beta_1 * first + (1 - beta_1) * grad
        second = beta_2 * second + (1 - beta_2) * grad**2
        largest = np.maximum(largest, second)  # never let the denominator shrink
        rate = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        weights = weights - rate * first / (np.sqrt(largest) + epsilon)
        history.append(weights.copy())
    return np.array(history)
''',
    wrong=[
        (
            "plain Adam",
            '''
def amsgrad(w0, gradients, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    w = np.array(w0, dtype=float); m = np.zeros_like(w); v = np.zeros_like(w)
    out = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        lr = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - lr * m / (np.sqrt(v) + epsilon)
        out.append(w.copy())
    return np.array(out)
''',
        ),
        (
            "no bias correction",
            '''
def amsgrad(w0, gradients, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    w = np.array(w0, dtype=float); m = np.zeros_like(w); v = np.zeros_like(w); vmax = np.zeros_like(w)
    out = []
    for g in gradients:
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        vmax = np.maximum(vmax, v)
        w = w - learning_rate * m / (np.sqrt(vmax) + epsilon)
        out.append(w.copy())
    return np.array(out)
''',
        ),
        (
            "maximum over the bias-corrected second moment",
            '''
def amsgrad(w0, gradients, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    w = np.array(w0, dtype=float); m = np.zeros_like(w); v = np.zeros_like(w); vmax = np.zeros_like(w)
    out = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        vmax = np.maximum(vmax, v / (1 - beta_2**t))
        w = w - learning_rate * (m / (1 - beta_1**t)) / (np.sqrt(vmax) + epsilon)
        out.append(w.copy())
    return np.array(out)
''',
        ),
        (
            "epsilon inside the square root",
            '''
def amsgrad(w0, gradients, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    w = np.array(w0, dtype=float); m = np.zeros_like(w); v = np.zeros_like(w); vmax = np.zeros_like(w)
    out = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        vmax = np.maximum(vmax, v)
        lr = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - lr * m / np.sqrt(vmax + epsilon)
        out.append(w.copy())
    return np.array(out)
''',
        ),
    ],
    taught=[
        "m = beta_1 * m + (1 - beta_1) * g",
        "v = beta_2 * v + (1 - beta_2) * g**2",
        "step_size = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)",
        "w = w - step_size * m / (np.sqrt(v) + eps)",
        'first = self.state["m"] + (g - self.state["m"]) * f32(1 - b1)',
    ],
)


WARMUP_COSINE = Answers(
    solution='''
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_steps, floor=0.0):
        self.peak, self.warmup_steps = peak, warmup_steps
        self.decay_steps, self.floor = decay_steps, floor

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rising = self.peak * step / self.warmup_steps
        done = keras.ops.minimum(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1.0 + keras.ops.cos(np.pi * done))
        falling = self.floor + (self.peak - self.floor) * cosine
        return keras.ops.where(step < self.warmup_steps, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps,
                "decay_steps": self.decay_steps, "floor": self.floor}
''',
    wrong=[
        (
            "no floor: decays to zero",
            '''
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_steps, floor=0.0):
        self.peak, self.warmup_steps, self.decay_steps, self.floor = peak, warmup_steps, decay_steps, floor
    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = keras.ops.minimum(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        return keras.ops.where(step < self.warmup_steps, self.peak * step / self.warmup_steps,
                               self.peak * 0.5 * (1 + keras.ops.cos(np.pi * done)))
    def get_config(self):
        return dict(peak=self.peak, warmup_steps=self.warmup_steps, decay_steps=self.decay_steps,
                    floor=self.floor)
''',
        ),
        (
            "the cosine is not clamped: the rate rises again after the decay",
            '''
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_steps, floor=0.0):
        self.peak, self.warmup_steps, self.decay_steps, self.floor = peak, warmup_steps, decay_steps, floor
    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = (step - self.warmup_steps) / self.decay_steps
        cosine = self.floor + (self.peak - self.floor) * 0.5 * (1 + keras.ops.cos(np.pi * done))
        return keras.ops.where(step < self.warmup_steps, self.peak * step / self.warmup_steps, cosine)
    def get_config(self):
        return dict(peak=self.peak, warmup_steps=self.warmup_steps, decay_steps=self.decay_steps,
                    floor=self.floor)
''',
        ),
        (
            "warm-up counted from step 1",
            '''
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_steps, floor=0.0):
        self.peak, self.warmup_steps, self.decay_steps, self.floor = peak, warmup_steps, decay_steps, floor
    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = keras.ops.minimum(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        cosine = self.floor + (self.peak - self.floor) * 0.5 * (1 + keras.ops.cos(np.pi * done))
        return keras.ops.where(step < self.warmup_steps, self.peak * (step + 1) / self.warmup_steps,
                               cosine)
    def get_config(self):
        return dict(peak=self.peak, warmup_steps=self.warmup_steps, decay_steps=self.decay_steps,
                    floor=self.floor)
''',
        ),
        (
            "get_config without the floor",
            '''
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak, warmup_steps, decay_steps, floor=0.0):
        self.peak, self.warmup_steps, self.decay_steps, self.floor = peak, warmup_steps, decay_steps, floor
    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        done = keras.ops.minimum(step - self.warmup_steps, self.decay_steps) / self.decay_steps
        cosine = self.floor + (self.peak - self.floor) * 0.5 * (1 + keras.ops.cos(np.pi * done))
        return keras.ops.where(step < self.warmup_steps, self.peak * step / self.warmup_steps, cosine)
    def get_config(self):
        return dict(peak=self.peak, warmup_steps=self.warmup_steps, decay_steps=self.decay_steps)
''',
        ),
    ],
)


CHOOSE_LR = Answers(
    solution='''
def choose_learning_rate(make_model, x, y):
    from course_utils.optimizers import lr_range_test, smooth
    rates, losses = lr_range_test(make_model(), x, y, lambda lr: keras.optimizers.SGD(lr),
                                  start=1e-4, stop=30.0, steps=150, batch_size=64)
    curve = smooth(losses)
    return float(rates[int(np.argmin(curve))] / 3)  # below the minimum, where the loss falls fast
''',
    wrong=[
        (
            "Adam's default rate for SGD, without a range test",
            '''
def choose_learning_rate(make_model, x, y):
    return 0.001
''',
        ),
        (
            "the last rate of the range test, where the loss blows up",
            '''
def choose_learning_rate(make_model, x, y):
    from course_utils.optimizers import lr_range_test
    rates, losses = lr_range_test(make_model(), x, y, lambda lr: keras.optimizers.SGD(lr),
                                  start=1e-4, stop=1e4, steps=150, diverge=1e9)
    return float(rates[-1])
''',
        ),
    ],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": "C", "q2": "A", "q3": "D", "q4": "B"}
''',
    wrong=[
        (
            "momentum for rare features, Adam has one slot, bias correction, rate unchanged",
            '''
quiz_answers = {"q1": "A", "q2": "B", "q3": "C", "q4": "A"}
''',
        ),
    ],
)
