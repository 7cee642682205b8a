<?php
trigger_error('the end of this request', E_USER_ERROR);
echo "not reached\n";
