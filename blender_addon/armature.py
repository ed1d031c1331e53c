"""Build the SMPL-X armature (and, with a model file, its skinned mesh) in Blender.

The armature object has an identity transform and Z-up data (``convert.C``); its 55 bones carry the
official SMPL-X joint names and hierarchy, heads at the rest joints, ``use_connect=False``, rolls set
deterministically, pose bones in ``'QUATERNION'`` mode. The object also holds the face channels as
custom properties: the ARKit weights (named as ``inference.core.layout.ARKIT_NAMES``, range 0..1) and
the SMPL-X expression coefficients ``expr_000``.. (for rigs without the SMPL-X mesh).

With a :class:`BodyModel` a child mesh is added: ``v_template + shapedirs·betas`` (the betas are
baked into the basis, so the mesh matches the shaped rest skeleton), one vertex group per bone from
the model's skinning weights, an Armature modifier, and shape keys ``Basis`` + ``Exp000``..
(one per expression direction).

Imports only bpy, numpy and the stdlib (plus the numpy-only engine modules).
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..inference.core.layout import ARKIT_NAMES, NUM_EXPRESSION
from ..inference.core.skeleton import DEFAULT_REST, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS, PARENTS
from .convert import C, points_from_blender, points_to_blender

#: Custom property on the armature object: the joint order its bones follow.
JOINT_NAMES_PROP = "smplx_joint_names"
#: Optional root-motion bone: on the floor at the origin, parent of the pelvis, never rotated; it
#: carries the motion over the floor and the pelvis keeps its height (game engines' root motion).
ROOT_MOTION_BONE = "root"
#: Its length as a fraction of the skeleton height (it points forward, like the body).
_ROOT_BONE_LENGTH = 0.15
#: Custom property on the armature object: how many ``expr_###`` properties it has.
NUM_EXPRESSION_PROP = "smplx_num_expression"


def expression_prop_name(i: int) -> str:
    """Name of the i-th expression custom property on the armature object (``expr_000``)."""
    return f"expr_{i:03d}"


#: Rest joints closer than this to the bones' heads are taken as already fitted (metres).
REST_TOLERANCE_M = 1e-5

NUM_SHAPE_KEYS = 10   # betas exposed as shape keys (the first ten carry almost all of the shape)


def shape_key_name(i: int) -> str:
    """Name of the i-th shape (beta) key on the SMPL-X mesh (``Shape000``)."""
    return f"Shape{i:03d}"


def expression_key_name(i: int) -> str:
    """Name of the i-th expression shape key on the SMPL-X mesh (``Exp000``)."""
    return f"Exp{i:03d}"


# ---------------------------------------------------------------------------- bone geometry
#: Joints whose bone points at one chosen child instead of the average of their children.
_MAIN_CHILD = {
    "pelvis": "spine1", "spine3": "neck", "left_wrist": "left_middle1",
    "right_wrist": "right_middle1",
}
_UP = np.array([0.0, 1.0, 0.0])          # Y-up engine frame
_FORWARD = np.array([0.0, 0.0, 1.0])     # the body faces +Z
#: Leaves with a fixed direction (Y-up) and a length as a fraction of the skeleton height.
_LEAF_DIRECTION = {
    "head": (_UP, 0.10), "jaw": (np.array([0.0, -0.5, 1.0]) / np.sqrt(1.25), 0.045),
    "left_eye_smplhf": (_FORWARD, 0.02), "right_eye_smplhf": (_FORWARD, 0.02),
    "left_foot": (_FORWARD, 0.05), "right_foot": (_FORWARD, 0.05),
}


@dataclass(frozen=True)
class BoneLayout:
    """Edit-bone geometry in armature space (Z-up).

    heads, tails: (55, 3) float64; roll_axes: (55, 3) float64 unit vector each bone's Z axis is
    aligned to (``EditBone.align_roll``).
    """

    heads: np.ndarray
    tails: np.ndarray
    roll_axes: np.ndarray


def bone_tails(rest: np.ndarray) -> np.ndarray:
    """Bone tails for rest joints. rest: (55, 3) Y-up → (55, 3) Y-up float64.

    A bone points at its main child (spine, wrists) or at the mean of its children; head, jaw, eyes
    and feet point up / forward; finger tips continue their parent's direction at 0.8× its length.
    Every bone is at least 0.5 % of the skeleton height long.
    """
    rest = np.asarray(rest, dtype=np.float64)
    height = float(np.ptp(rest[:, 1])) or 1.0
    tails = np.empty_like(rest)
    for j, name in enumerate(JOINT_NAMES):          # 55 joints, once per build
        children = np.flatnonzero(PARENTS == j)
        if name in _LEAF_DIRECTION:
            direction, frac = _LEAF_DIRECTION[name]
            vec = direction * frac * height
        elif name in _MAIN_CHILD:
            vec = rest[JOINT_INDEX[_MAIN_CHILD[name]]] - rest[j]
        elif children.size:
            vec = rest[children].mean(axis=0) - rest[j]
        else:                                        # finger tips
            vec = 0.8 * (rest[j] - rest[PARENTS[j]])
        length = np.linalg.norm(vec)
        min_len = 0.005 * height
        if length < min_len:
            vec = (vec / length if length > 0 else _UP) * min_len
        tails[j] = rest[j] + vec
    return tails


def bone_layout(rest: np.ndarray) -> BoneLayout:
    """Heads, tails and roll axes in armature space (Z-up) for rest joints (55, 3) Y-up.

    Roll: each bone's Z axis is aligned with the body's forward direction, or with up for bones
    that themselves point (nearly) forward or backward (feet, eyes, jaw).
    """
    heads_y = np.asarray(rest, dtype=np.float64)
    tails_y = bone_tails(heads_y)
    d = tails_y - heads_y
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    forwardish = np.abs(d @ _FORWARD) > 0.7
    axes_y = np.where(forwardish[:, None], _UP, _FORWARD)
    return BoneLayout(points_to_blender(heads_y), points_to_blender(tails_y), axes_y @ C.T)


# ---------------------------------------------------------------------------- custom properties
def _add_float_prop(obj: bpy.types.Object, name: str, soft_min: float, soft_max: float,
                    hard: tuple[float, float] | None, description: str) -> None:
    obj[name] = 0.0
    ui = obj.id_properties_ui(name)
    kwargs = dict(default=0.0, soft_min=soft_min, soft_max=soft_max, description=description)
    if hard is not None:
        kwargs.update(min=hard[0], max=hard[1])
    ui.update(**kwargs)
    obj.property_overridable_library_set(f'["{name}"]', True)


def add_face_properties(obj: bpy.types.Object, num_expression: int = NUM_EXPRESSION) -> None:
    """Add the ARKit weights (0..1) and ``expr_000``.. (soft ±3) custom properties to ``obj``.

    Existing values are reset to 0. All are library-overridable (animatable on linked rigs).
    """
    for name in ARKIT_NAMES:
        _add_float_prop(obj, name, 0.0, 1.0, (0.0, 1.0), f"ARKit blendshape weight {name}")
    for i in range(num_expression):
        _add_float_prop(obj, expression_prop_name(i), -3.0, 3.0, None, f"SMPL-X expression coefficient {i}")
    obj[NUM_EXPRESSION_PROP] = int(num_expression)


# ---------------------------------------------------------------------------- armature
def _link(context: bpy.types.Context, obj: bpy.types.Object, collection) -> None:
    coll = collection or getattr(context, "collection", None) or context.scene.collection
    coll.objects.link(obj)


def edit_bones(context: bpy.types.Context, obj: bpy.types.Object, edit) -> None:
    """Run ``edit(obj.data.edit_bones)`` in edit mode on ``obj``, then return to object mode with
    the previously active object active again."""
    view_layer = context.view_layer
    previous = view_layer.objects.active
    if previous is not None and previous.mode != "OBJECT":
        with context.temp_override(active_object=previous, object=previous):
            bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = obj
    with context.temp_override(active_object=obj, object=obj):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            edit(obj.data.edit_bones)
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = previous if previous is not None else obj


def _place(eb, layout: BoneLayout, j: int) -> None:
    eb.head = layout.heads[j]
    eb.tail = layout.tails[j]
    eb.align_roll(layout.roll_axes[j])


def _build_bones(context: bpy.types.Context, obj: bpy.types.Object, layout: BoneLayout,
                 root_bone: bool = False) -> None:
    """Create the 55 edit bones (and, with ``root_bone``, :data:`ROOT_MOTION_BONE` as the pelvis's parent)."""
    def edit(ebones):
        made = []
        for j, name in enumerate(JOINT_NAMES):
            eb = ebones.new(name)
            _place(eb, layout, j)
            eb.use_connect = False
            eb.use_deform = True
            if PARENTS[j] >= 0:
                eb.parent = made[PARENTS[j]]
            made.append(eb)
        if root_bone:
            height = float(np.ptp(layout.heads[:, 2])) or 1.0
            root = ebones.new(ROOT_MOTION_BONE)
            root.head = (0.0, 0.0, 0.0)
            root.tail = tuple(points_to_blender(_FORWARD * _ROOT_BONE_LENGTH * height))
            root.align_roll(tuple(points_to_blender(_UP)))
            root.use_deform = False
            made[0].parent = root
    edit_bones(context, obj, edit)


def rest_heads(obj: bpy.types.Object) -> np.ndarray:
    """(55, 3) float64 Y-up rest heads of the SMPL-X bones of ``obj`` (armature space)."""
    bones = obj.data.bones
    return points_from_blender(np.array([bones[name].head_local for name in JOINT_NAMES], np.float64))


def fit_rest(context: bpy.types.Context, obj: bpy.types.Object, rest_joints: np.ndarray,
             betas: np.ndarray | None = None) -> bool:
    """Re-proportion an armature built by :func:`build_armature` to a capture's rest joints, so
    its posed joints are where the engine put them: bone heads, tails and rolls as
    :func:`build_armature` makes them for ``rest_joints`` (55, 3) Y-up metres, and the skinned
    mesh's ``Shape###`` keys set to ``betas`` (b,) (its shape then follows the bones).

    Other armatures (no :data:`JOINT_NAMES_PROP`) are left alone. Returns True when bones moved.
    """
    rest = np.asarray(rest_joints, np.float64)
    if JOINT_NAMES_PROP not in obj or rest.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(rest)):
        return False
    mesh = smplx_mesh(obj)
    if mesh is not None and betas is not None:
        blocks = mesh.data.shape_keys.key_blocks
        for i, value in enumerate(np.asarray(betas, np.float64).reshape(-1).tolist()):
            kb = blocks.get(shape_key_name(i))
            if kb is not None:
                kb.value = value
    if np.abs(rest_heads(obj) - rest).max() < REST_TOLERANCE_M:
        return False
    layout = bone_layout(rest)

    def edit(ebones):
        for j, name in enumerate(JOINT_NAMES):
            _place(ebones[name], layout, j)
    edit_bones(context, obj, edit)
    return True


def build_armature(context: bpy.types.Context, name: str = "SMPLX", rest_joints: np.ndarray | None = None,
                   model=None, betas: np.ndarray | None = None, collection=None,
                   num_expression: int | None = None, root_bone: bool = False) -> bpy.types.Object:
    """Create an SMPL-X armature object (and, with ``model``, its skinned child mesh).

    rest_joints: (55, 3) Y-up metres (default ``DEFAULT_REST``; ignored when ``model`` is given, the
    rest joints are then ``model.rest_joints(betas)``); model: ``inference.body.body_model.BodyModel``
    or None; betas: (b,) shape coefficients baked into the mesh; collection: where to link the
    objects (default: the context's collection); num_expression: ``expr_###`` properties /
    ``Exp###`` shape keys to create (default: the engine's width ``NUM_EXPRESSION``, at most the
    model's); root_bone: add :data:`ROOT_MOTION_BONE`. Returns the armature object, left in object mode.
    """
    if model is not None:
        rest = model.rest_joints(betas)
    else:
        rest = DEFAULT_REST if rest_joints is None else np.asarray(rest_joints, dtype=np.float64)
    if rest.shape != (NUM_JOINTS, 3) or not np.all(np.isfinite(rest)):
        raise ValueError(f"rest_joints has shape {rest.shape} or non-finite values: pass (55, 3) metres, Y up")
    n_expr = NUM_EXPRESSION if num_expression is None else int(num_expression)
    if model is not None:
        n_expr = min(n_expr, model.num_expression)

    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    _link(context, obj, collection)
    _build_bones(context, obj, bone_layout(rest), root_bone)
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    obj[JOINT_NAMES_PROP] = list(JOINT_NAMES)
    add_face_properties(obj, n_expr)
    if model is not None:
        build_mesh(context, obj, model, betas, n_expr, collection)
    return obj


# ---------------------------------------------------------------------------- mesh
def _fill_mesh(mesh: bpy.types.Mesh, verts_z: np.ndarray, faces: np.ndarray) -> None:
    """Bulk-fill an empty mesh. verts_z: (V, 3) Z-up; faces: (F, 3) int vertex ids."""
    faces = np.asarray(faces, dtype=np.int64)
    if faces.size and (faces.min() < 0 or faces.max() >= verts_z.shape[0]):
        raise ValueError(f"faces index vertices outside 0..{verts_z.shape[0] - 1}: the model file is inconsistent")
    n_faces = faces.shape[0]
    mesh.vertices.add(verts_z.shape[0])
    mesh.vertices.foreach_set("co", verts_z.astype(np.float32).ravel())
    mesh.loops.add(3 * n_faces)
    mesh.loops.foreach_set("vertex_index", faces.astype(np.int32).ravel())
    mesh.polygons.add(n_faces)
    mesh.polygons.foreach_set("loop_start", np.arange(0, 3 * n_faces, 3, dtype=np.int32))
    mesh.update()
    if hasattr(mesh, "shade_smooth"):           # 4.1+
        mesh.shade_smooth()
    else:
        mesh.polygons.foreach_set("use_smooth", np.ones(n_faces, dtype=bool))


def _add_vertex_groups(obj: bpy.types.Object, weights: np.ndarray) -> None:
    """One vertex group per bone from (V, 55) skinning weights; only non-zero weights are stored.

    ``VertexGroup.add`` takes one weight per call, so the vertices of a bone are grouped by weight
    value: one call per distinct value (a handful for binary weights).
    """
    weights = np.asarray(weights, dtype=np.float32)
    for j, name in enumerate(JOINT_NAMES):
        vg = obj.vertex_groups.new(name=name)
        col = weights[:, j]
        nz = np.flatnonzero(col)
        if nz.size == 0:
            continue
        values, inverse = np.unique(col[nz], return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        splits = np.split(nz[order], np.cumsum(np.bincount(inverse, minlength=values.size))[:-1])
        for value, idx in zip(values.tolist(), splits):
            vg.add(idx.tolist(), value, "REPLACE")


def build_mesh(context: bpy.types.Context, armature_obj: bpy.types.Object, model,
               betas: np.ndarray | None = None, num_expression: int = NUM_EXPRESSION,
               collection=None) -> bpy.types.Object:
    """Skinned SMPL-X mesh parented to ``armature_obj``: vertices, faces, vertex groups, Armature
    modifier, shape keys ``Basis`` (the template), ``Shape000``.. (one per beta, set to ``betas``:
    the mix is the subject's shape) and ``Exp000``..``Exp{E-1}`` (from ``model.exprdirs``).

    Returns the mesh object (named ``<armature>_body``).
    """
    template = np.asarray(model.v_template, np.float64)
    verts = points_to_blender(template)                                           # (V, 3) Z-up
    mesh = bpy.data.meshes.new(f"{armature_obj.name}_body")
    _fill_mesh(mesh, verts, model.faces)
    obj = bpy.data.objects.new(f"{armature_obj.name}_body", mesh)
    _link(context, obj, collection)
    obj.parent = armature_obj
    _add_vertex_groups(obj, model.weights)
    mod = obj.modifiers.new("Armature", "ARMATURE")
    mod.object = armature_obj
    mod.use_vertex_groups = True
    obj.shape_key_add(name="Basis", from_mix=False)
    b = np.zeros(0) if betas is None else np.asarray(betas, np.float64).reshape(-1)
    if b.size > model.num_betas:
        raise ValueError(f"betas has {b.size} coefficients but the model has {model.num_betas}: "
                         f"pass at most {model.num_betas}")
    n_shape = min(max(NUM_SHAPE_KEYS, b.size), model.num_betas)
    shape_dirs = points_to_blender(np.moveaxis(model.shapedirs[..., :n_shape], -1, 0))   # (B, V, 3)
    for i in range(n_shape):                                     # one shape key per beta
        kb = obj.shape_key_add(name=shape_key_name(i), from_mix=False)
        kb.slider_min, kb.slider_max = -5.0, 5.0
        kb.data.foreach_set("co", (verts + shape_dirs[i]).astype(np.float32).ravel())
        kb.value = float(b[i]) if i < b.size else 0.0
    n_expr = min(int(num_expression), model.num_expression)
    if n_expr:
        dirs = points_to_blender(np.moveaxis(model.exprdirs[..., :n_expr], -1, 0))  # (E, V, 3)
        for i in range(n_expr):                                  # one shape key per expression
            kb = obj.shape_key_add(name=expression_key_name(i), from_mix=False)
            kb.slider_min, kb.slider_max = -10.0, 10.0
            kb.data.foreach_set("co", (verts + dirs[i]).astype(np.float32).ravel())
            kb.value = 0.0                                       # shape_key_add may start a key at 1
    mesh.update()
    return obj


def smplx_mesh(armature_obj: bpy.types.Object) -> bpy.types.Object | None:
    """The child mesh of ``armature_obj`` that carries the ``Exp000`` shape key, or None."""
    for child in armature_obj.children:
        keys = getattr(child.data, "shape_keys", None) if child.type == "MESH" else None
        if keys is not None and keys.key_blocks.get(expression_key_name(0)) is not None:
            return child
    return None
