<?php
// Leaves a file behind: proof that PHP ran for whoever asked.
touch(__DIR__ . '/peer_marker.ran');
echo "ran\n";
