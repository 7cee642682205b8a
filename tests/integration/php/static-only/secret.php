<?php
// SOURCE-MARKER: this file must never be run or shown under a static route.
echo "EXECUTED-MARKER\n";
