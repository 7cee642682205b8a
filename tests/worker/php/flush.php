<?php
echo "first\n";
flush();
usleep(400000);
echo "second\n";
