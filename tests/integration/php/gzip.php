<?php
// Compresses its answer as the request's Accept-Encoding asks: through ob_gzhandler, or with
// ?ini=1 through zlib.output_compression.
if (isset($_GET['ini'])) {
    ini_set('zlib.output_compression', '1');
} else {
    ob_start('ob_gzhandler');
}
echo str_repeat("compressible text\n", 64);
