<?php
// Many small writes, as a template run without output buffering makes them.
while (ob_get_level()) {
    ob_end_flush();
}
for ($i = 0; $i < 10000; $i++) {
    echo "x";
}
