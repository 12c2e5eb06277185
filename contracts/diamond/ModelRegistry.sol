// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {ProviderRegistry} from "./ProviderRegistry.sol";
import {Paginator} from "../libs/Paginator.sol";

/// @notice Model registry facet (spec §2.4).
abstract contract ModelRegistry is ProviderRegistry {
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using Paginator for EnumerableSet.Bytes32Set;
    using Paginator for bytes32[];

    error ModelStakeTooLow(uint256 amount, uint256 minAmount);
    error ModelHasAlreadyDeregistered();
    error ModelHasActiveBids();
    error ModelNotFound();

    event ModelRegisteredUpdated(address indexed owner, bytes32 indexed modelId);
    event ModelDeregistered(address indexed owner, bytes32 indexed modelId);
    event ModelMinimumStakeUpdated(uint256 modelMinimumStake);

    struct Model {
        bytes32 ipfsCID;
        uint256 fee;
        uint256 stake;
        address owner;
        string name;
        string[] tags;
        uint128 createdAt;
        bool isDeleted;
    }

    uint256 internal _modelMinimumStake;
    mapping(bytes32 => Model) internal _models;
    bytes32[] internal _modelIds;
    EnumerableSet.Bytes32Set internal _activeModels;

    function __ModelRegistry_init()
        external
        onlyOwner
        onlyInitializing(keccak256("diamond.standard.models.storage"))
    {}

    function modelSetMinStake(uint256 modelMinimumStake_) external onlyOwner {
        _modelMinimumStake = modelMinimumStake_;
        emit ModelMinimumStakeUpdated(modelMinimumStake_);
    }

    function modelRegister(
        address modelOwner_,
        bytes32 baseModelId_,
        bytes32 ipfsCID_,
        uint256 fee_,
        uint256 amount_,
        string calldata name_,
        string[] memory tags_
    ) external {
        _onlyAccount(modelOwner_, DELEGATION_RULES_MODEL);
        bytes32 modelId = getModelId(modelOwner_, baseModelId_);
        Model storage model = _models[modelId];
        uint256 newStake = model.stake + amount_;
        if (newStake < _modelMinimumStake) {
            revert ModelStakeTooLow(newStake, _modelMinimumStake);
        }
        if (amount_ > 0) {
            SafeERC20.safeTransferFrom(_token, modelOwner_, address(this), amount_);
        }
        if (model.createdAt == 0) {
            _modelIds.push(modelId);
            model.createdAt = uint128(block.timestamp);
            model.owner = modelOwner_;
        }
        model.stake = newStake;
        model.ipfsCID = ipfsCID_;
        model.fee = fee_;
        model.name = name_;
        model.tags = tags_;
        model.isDeleted = false;
        _activeModels.add(modelId);
        emit ModelRegisteredUpdated(modelOwner_, modelId);
    }

    function modelDeregister(bytes32 modelId_) external {
        Model storage model = _models[modelId_];
        _onlyAccount(model.owner, DELEGATION_RULES_MODEL);
        if (_modelActiveBids[modelId_].length() != 0) {
            revert ModelHasActiveBids();
        }
        if (model.isDeleted) {
            revert ModelHasAlreadyDeregistered();
        }
        uint256 withdrawAmount = model.stake;
        model.stake = 0;
        model.isDeleted = true;
        _activeModels.remove(modelId_);
        SafeERC20.safeTransfer(_token, model.owner, withdrawAmount);
        emit ModelDeregistered(model.owner, modelId_);
    }

    function getModelId(address account_, bytes32 baseModelId_) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(account_, baseModelId_));
    }

    function getModel(bytes32 modelId_) external view returns (Model memory) {
        return _models[modelId_];
    }

    function getModelIds(uint256 offset_, uint256 limit_) external view returns (bytes32[] memory, uint256) {
        return _modelIds.part(offset_, limit_);
    }

    function getActiveModelIds(uint256 offset_, uint256 limit_) external view returns (bytes32[] memory, uint256) {
        return _activeModels.part(offset_, limit_);
    }

    function getModelMinimumStake() external view returns (uint256) {
        return _modelMinimumStake;
    }

    function getIsModelActive(bytes32 modelId_) public view returns (bool) {
        Model storage model = _models[modelId_];
        return model.createdAt != 0 && !model.isDeleted;
    }
}
