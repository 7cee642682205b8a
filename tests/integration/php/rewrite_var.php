<?php
// A form, with ?v= added to it as a hidden field by output_add_rewrite_var().
if (isset($_GET['v'])) {
    output_add_rewrite_var('tok', $_GET['v']);
}
echo '<form action="/next.php"></form>';
