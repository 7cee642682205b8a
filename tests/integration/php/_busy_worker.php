<?php
// A worker script that never asks for a request: it keeps busy with something else.
for ($i = 0; $i < 600; $i++) {
    usleep(100000);
}
