
Bsoftmax_0.tmp_0J“²”5îÿ?