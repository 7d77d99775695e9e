"""AdamW whose Adam step is one TensorFlow kernel per weight.

Keras 3's Adam updates each weight with about ten element-wise operations (the moments,
the bias correction, the step) that each read and write whole tensors. TensorFlow's
`ResourceApplyAdam` kernel does the same arithmetic in one pass over the weight and its
two moments. Weight decay, the learning-rate schedule and weight averaging stay Keras's.
"""

from typing import Any

import keras
import tensorflow as tf


class FusedAdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` (same arguments and results) with a fused Adam step.

    Sparse gradients and AMSGrad, which the kernel does not cover, take Keras's step.
    """

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            return
        # TensorFlow's optimizer passes the `tf.Variable` under each Keras variable
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )
